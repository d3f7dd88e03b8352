//! Wallets: a distributor's account in the tenant's double-entry ledger.
//!
//! Commissions credit it (posting a run), clawbacks debit it (restatements; it may go below
//! zero), withdrawals debit it only while the balance covers them — the store checks that in
//! the same atomic step that moves the money, so concurrent withdrawals never overdraw.

use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::json::JsonBody;
use crate::money::{amount_text, parse_amount_field};
use crate::orders::check_id;
use crate::runs::posting::wallet_account;
use crate::state::{now_ms, AppState, TenantRuntime};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{Transfer, TransferKind, TransferOutcome};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The account withdrawals are paid out to.
pub const PAYOUTS_ACCOUNT: &str = "system:payouts";
const HISTORY_LIMIT_MAX: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_wallet))
        .routes(routes!(wallet_transfers))
        .routes(routes!(withdraw))
        .routes(routes!(ledger_balance))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct WalletView {
    pub distributor_id: String,
    pub currency: String,
    /// Decimal string; negative after a clawback larger than the balance.
    pub balance: String,
    pub transfers: u64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct TransferView {
    pub id: String,
    /// `commission`, `adjustment` or `withdrawal`.
    pub kind: String,
    /// Signed, as seen from the wallet: positive credits it.
    pub amount: String,
    pub counterparty: String,
    pub created_at_ms: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    /// Chosen by the caller, unique per withdrawal: a retry with the same id pays out once.
    pub withdrawal_id: String,
    /// A positive decimal string in the plan's currency.
    pub amount: String,
}

#[derive(Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// At most 500; default 50.
    pub limit: Option<usize>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct LedgerBalanceView {
    pub accounts: u64,
    /// The sum of every account's balance: always "0" in a double-entry ledger.
    pub sum: String,
}

fn known_distributor(tenant: &TenantRuntime, distributor_id: &str) -> ApiResult<()> {
    let known = tenant
        .directory
        .read()
        .expect("directory lock")
        .durable_node(distributor_id)
        .is_some();
    if known {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "distributor {distributor_id:?}"
        )))
    }
}

fn kind_text(kind: TransferKind) -> &'static str {
    kind.as_str()
}

/// A distributor's wallet balance.
#[utoipa::path(get, path = "/v1/wallets/{distributor_id}", tag = "wallets", params(("distributor_id" = String, Path)),
    responses((status = 200, body = WalletView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn get_wallet(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(distributor_id): Path<String>,
) -> ApiResult<Json<WalletView>> {
    known_distributor(&tenant, &distributor_id)?;
    let account = state
        .store()
        .account(&tenant.tenant.id, &wallet_account(&distributor_id))
        .await?;
    Ok(Json(WalletView {
        distributor_id,
        currency: tenant.plan.currency.clone(),
        balance: amount_text(account.balance, tenant.plan.decimals),
        transfers: account.transfers,
    }))
}

/// A wallet's transfers, newest first.
#[utoipa::path(get, path = "/v1/wallets/{distributor_id}/transfers", tag = "wallets", params(("distributor_id" = String, Path), HistoryQuery),
    responses((status = 200, body = Vec<TransferView>), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn wallet_transfers(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(distributor_id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<TransferView>>> {
    known_distributor(&tenant, &distributor_id)?;
    let limit = query.limit.unwrap_or(50).min(HISTORY_LIMIT_MAX);
    let wallet = wallet_account(&distributor_id);
    let transfers = state
        .store()
        .account_transfers(&tenant.tenant.id, &wallet, limit)
        .await?;
    let decimals = tenant.plan.decimals;
    let views = transfers
        .into_iter()
        .map(|transfer| {
            let incoming = transfer.credit == wallet;
            TransferView {
                kind: kind_text(transfer.kind).to_owned(),
                amount: amount_text(
                    if incoming {
                        transfer.amount
                    } else {
                        -transfer.amount
                    },
                    decimals,
                ),
                counterparty: if incoming {
                    transfer.debit
                } else {
                    transfer.credit
                },
                id: transfer.id,
                created_at_ms: transfer.created_at_ms,
            }
        })
        .collect();
    Ok(Json(views))
}

/// Withdraw from a wallet. Refused (409 `insufficient_funds`) when the balance does not cover
/// it — including while a clawback keeps the wallet below zero.
#[utoipa::path(post, path = "/v1/wallets/{distributor_id}/withdrawals", tag = "wallets", params(("distributor_id" = String, Path)),
    request_body = WithdrawalBody,
    responses((status = 201, body = TransferView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("api_key" = [])))]
async fn withdraw(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(distributor_id): Path<String>,
    JsonBody(body): JsonBody<WithdrawalBody>,
) -> ApiResult<(StatusCode, Json<TransferView>)> {
    known_distributor(&tenant, &distributor_id)?;
    check_id("withdrawal_id", &body.withdrawal_id)?;
    let decimals = tenant.plan.decimals;
    let amount = parse_amount_field("amount", &body.amount, decimals)?;
    let transfer = Transfer {
        id: format!("withdrawal/{distributor_id}/{}", body.withdrawal_id),
        debit: wallet_account(&distributor_id),
        credit: PAYOUTS_ACCOUNT.to_owned(),
        amount,
        kind: TransferKind::Withdrawal,
        debit_must_stay_non_negative: true,
        created_at_ms: now_ms(),
    };
    let outcomes = state
        .store()
        .post_transfers(&tenant.tenant.id, vec![transfer.clone()])
        .await?;
    match outcomes.into_iter().next() {
        Some(TransferOutcome::Posted) | Some(TransferOutcome::AlreadyPosted) => {
            state
                .metrics()
                .transfers
                .with_label_values(&["withdrawal"])
                .inc();
            let stored = state
                .store()
                .transfer(&tenant.tenant.id, &transfer.id)
                .await?
                .unwrap_or(transfer);
            Ok((
                StatusCode::CREATED,
                Json(TransferView {
                    id: stored.id,
                    kind: "withdrawal".into(),
                    amount: amount_text(-stored.amount, decimals),
                    counterparty: stored.credit,
                    created_at_ms: stored.created_at_ms,
                }),
            ))
        }
        Some(TransferOutcome::InsufficientFunds { balance }) => Err(ApiError::InsufficientFunds {
            balance: amount_text(balance, decimals),
        }),
        Some(TransferOutcome::IdTakenByAnotherTransfer) => Err(ApiError::Conflict(
            "withdrawal_id was used before for a different withdrawal".into(),
        )),
        other => Err(ApiError::Internal(format!(
            "unexpected withdrawal outcome {other:?}"
        ))),
    }
}

/// The tenant's ledger in one figure: the sum of all balances (always zero).
#[utoipa::path(get, path = "/v1/ledger/balance", tag = "wallets", responses((status = 200, body = LedgerBalanceView)), security(("api_key" = [])))]
async fn ledger_balance(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
) -> ApiResult<Json<LedgerBalanceView>> {
    let accounts = state.store().accounts(&tenant.tenant.id).await?;
    let sum: i128 = accounts
        .iter()
        .map(|account| i128::from(account.balance))
        .sum();
    Ok(Json(LedgerBalanceView {
        accounts: accounts.len() as u64,
        sum: sum.to_string(),
    }))
}
