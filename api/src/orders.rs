//! Orders: created under an `Idempotency-Key`, refunded, read back.

use crate::auth::{sha256_hex, TenantAccess};
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::json::JsonBody;
use crate::money::{parse_volume_field, volume_text};
use crate::state::{now_ms, AppState, TenantRuntime};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{NewOrder, Order, OrderOutcome, OrderStatus, RefundOutcome};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(get_order))
        .routes(routes!(refund_order))
}

/// The longest `Idempotency-Key` accepted.
const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 200;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    pub order_id: String,
    pub distributor_id: String,
    /// `YYYY-MM-DD`: the periods the order counts in.
    pub date: String,
    /// Point volume: a decimal string with at most 4 fractional digits.
    pub pv: String,
    /// Commissionable value, same syntax.
    pub cv: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct OrderView {
    pub order_id: String,
    pub distributor_id: String,
    pub date: String,
    pub pv: String,
    pub cv: String,
    /// `paid` or `refunded`.
    pub status: String,
    pub created_at_ms: i64,
}

impl OrderView {
    pub fn of(order: &Order) -> OrderView {
        OrderView {
            order_id: order.order_id.clone(),
            distributor_id: order.distributor_id.clone(),
            date: order.date.clone(),
            pv: volume_text(order.pv),
            cv: volume_text(order.cv),
            status: match order.status {
                OrderStatus::Paid => "paid",
                OrderStatus::Refunded => "refunded",
            }
            .to_owned(),
            created_at_ms: order.created_at_ms,
        }
    }
}

/// Checks an id: non-empty, at most 128 bytes, no whitespace, comma, quote or control character
/// (so that it can appear in the spec's CSV files as it is).
pub fn check_id(field: &str, id: &str) -> ApiResult<()> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '"' || c == '\'');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "must be 1 to 128 bytes of UTF-8 text without whitespace, commas, quotes or control characters",
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let invalid = |message: &str| ApiError::invalid("Idempotency-Key", message);
    let value = headers.get("idempotency-key").ok_or_else(|| {
        invalid("this header is required: a unique string per order, reused only to retry")
    })?;
    let key = value
        .to_str()
        .map_err(|_| invalid("must be visible ASCII"))?;
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LENGTH_MAX || key.contains('\0') {
        return Err(invalid("must be 1 to 200 characters"));
    }
    Ok(key.to_owned())
}

/// The distributor must be durably enrolled, and reside in the region this store serves: an
/// order is kept in the keyspace of its distributor's residence region.
fn check_residence(
    tenant: &TenantRuntime,
    state: &AppState,
    distributor_id: &str,
) -> ApiResult<()> {
    let directory = tenant.directory.read().expect("directory lock");
    let node = directory.durable_node(distributor_id).ok_or_else(|| {
        ApiError::invalid(
            "distributor_id",
            format!("unknown distributor {distributor_id:?}"),
        )
    })?;
    let (Some(residence), Some(serving)) = (directory.residence(node), state.region()) else {
        return Ok(());
    };
    if residence == serving {
        return Ok(());
    }
    Err(ApiError::ResidesElsewhere {
        distributor_id: distributor_id.to_owned(),
        region: residence.to_owned(),
    })
}

/// Create an order. A retry with the same `Idempotency-Key` and body answers as the first
/// time (with `Idempotent-Replayed: true`); the same key with another body is 422.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = NewOrderBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per order; reuse it only to retry")),
    responses((status = 201, body = OrderView), (status = 409, body = crate::error::Problem),
        (status = 421, description = "The distributor resides in another region: place the order through an endpoint of that region", body = crate::error::Problem),
        (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("api_key" = [])))]
async fn create_order(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewOrderBody>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    check_id("order_id", &body.order_id)?;
    check_id("distributor_id", &body.distributor_id)?;
    if engine::calendar::parse_date(body.date.as_bytes()).is_none() {
        return Err(ApiError::invalid("date", "must be a date YYYY-MM-DD"));
    }
    let pv = parse_volume_field("pv", &body.pv)?;
    let cv = parse_volume_field("cv", &body.cv)?;
    check_residence(&tenant, &state, &body.distributor_id)?;
    // The fingerprint of the request as understood (not its bytes): the same order sent with
    // other spacing is the same request.
    let fingerprint = sha256_hex(&serde_json::to_vec(&body).expect("bodies serialize"));
    let order = Order {
        order_id: body.order_id,
        distributor_id: body.distributor_id,
        date: body.date,
        pv,
        cv,
        status: OrderStatus::Paid,
        created_at_ms: now_ms(),
    };
    let new_order = NewOrder {
        idempotency_key: key,
        request_sha256: fingerprint,
        order,
    };
    let outcome = state
        .store()
        .create_order(&tenant.tenant.id, new_order)
        .await?;
    let orders = &state.metrics().orders;
    match outcome {
        OrderOutcome::Created(order) => {
            orders.with_label_values(&["created"]).inc();
            Ok((StatusCode::CREATED, Json(OrderView::of(&order))).into_response())
        }
        OrderOutcome::Replayed(order) => {
            orders.with_label_values(&["replayed"]).inc();
            let mut response = (StatusCode::CREATED, Json(OrderView::of(&order))).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
        OrderOutcome::KeyReusedWithAnotherBody => {
            orders.with_label_values(&["key_reused"]).inc();
            Err(ApiError::IdempotencyKeyReused)
        }
        OrderOutcome::OrderIdTaken => {
            orders.with_label_values(&["order_id_taken"]).inc();
            Err(ApiError::Conflict(
                "order_id is already used by another order".into(),
            ))
        }
    }
}

/// Read an order.
#[utoipa::path(get, path = "/v1/orders/{order_id}", tag = "orders", params(("order_id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn get_order(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    let order = state.store().order(&tenant.tenant.id, &order_id).await?;
    order
        .map(|order| Json(OrderView::of(&order)))
        .ok_or_else(|| ApiError::NotFound(format!("order {order_id:?}")))
}

/// Refund an order (idempotent). A refund in a period whose run is committed restates that
/// run: the differences are posted as adjustments.
#[utoipa::path(post, path = "/v1/orders/{order_id}/refund", tag = "orders", params(("order_id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn refund_order(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    match state
        .store()
        .refund_order(&tenant.tenant.id, &order_id)
        .await?
    {
        RefundOutcome::Refunded(order) => {
            state
                .metrics()
                .orders
                .with_label_values(&["refunded"])
                .inc();
            if state.restates_refunds() {
                crate::runs::restatement::restate_after_refund(
                    state.clone(),
                    tenant.clone(),
                    order.date.clone(),
                )
                .await;
            }
            Ok(Json(OrderView::of(&order)))
        }
        RefundOutcome::AlreadyRefunded(order) => Ok(Json(OrderView::of(&order))),
        RefundOutcome::NotFound => Err(ApiError::NotFound(format!("order {order_id:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_id;

    #[test]
    fn an_id_is_at_most_128_bytes_of_text_however_many_characters() {
        assert!(check_id("id", &"x".repeat(128)).is_ok());
        assert!(check_id("id", &"x".repeat(129)).is_err());
        // 42 three-byte characters are 126 bytes; 43 are 129.
        assert!(check_id("id", &"€".repeat(42)).is_ok());
        let refused = check_id("id", &"€".repeat(43)).unwrap_err().to_string();
        assert!(refused.contains("128 bytes"), "{refused}");
    }

    #[test]
    fn an_id_holds_no_separator_quote_space_or_control_character() {
        for id in [
            "", "a,b", "a\"b", "a'b", "a b", "a\u{a0}b", "a\tb", "a\u{1b}b",
        ] {
            let refused = check_id("order_id", id).unwrap_err().to_string();
            assert!(refused.starts_with("order_id: "), "{id:?}: {refused}");
        }
        assert!(check_id("order_id", "ORD-2026/11#7").is_ok());
    }
}
