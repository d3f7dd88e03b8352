//! The records the store keeps, one type per aggregate. Numbers are exact integers: volumes in
//! 1/10,000 (as the engine reads PV and CV), money in minor units of the tenant's currency
//! (`10^-currency_decimals`). Times are Unix milliseconds, set by the caller (the store has no
//! clock of its own, so a replayed request writes the same bytes).

use serde::{Deserialize, Serialize};

/// The text names of an enum's variants (the same as its serde names), both ways: backends
/// store them and the API shows them.
macro_rules! variant_names {
    ($enum:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $enum {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($enum::$variant => $name),+
                }
            }

            pub fn parse(text: &str) -> Option<$enum> {
                match text {
                    $($name => Some($enum::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// A company running on Upline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// `[a-z0-9-]{1,40}`, chosen by the platform admin.
    pub id: String,
    pub name: String,
    /// The compensation plan document (COMP_PLAN_SPEC.md §2), as validated by the engine.
    pub plan: serde_json::Value,
    /// Starts at 1; a new plan makes a new version (runs name the version they used).
    pub plan_version: u32,
    pub created_at_ms: i64,
    /// The region that holds the tenant's genealogy and runs its commission runs, when it is
    /// not the region of this store: this store's region then keeps the personal data, orders
    /// and wallets of the distributors residing here, and enrolls them through the home region.
    /// None: the tenant is at home here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    /// When the workers close the tenant's periods on their own; None: periods are closed
    /// through the API only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes: Option<CloseSchedule>,
}

impl Tenant {
    /// Whether the tenant is at home in `region` (the region a process serves): a tenant
    /// without a home region is at home wherever it is kept. In one deployment spanning
    /// several regions every region reads the same record, which names the home.
    pub fn is_at_home_in(&self, region: Option<&str>) -> bool {
        match &self.home_region {
            None => true,
            Some(home) => region == Some(home.as_str()),
        }
    }

    /// The tenant as a process serving `region` sees it: no home region when at home there.
    pub fn seen_from(mut self, region: Option<&str>) -> Tenant {
        if self.is_at_home_in(region) {
            self.home_region = None;
        }
        self
    }
}

/// A tenant's scheduled closes: every period of one kind is closed, committed and posted once
/// it has ended and `after_hours` more have passed (late orders and refunds dated in it arrive
/// meanwhile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseSchedule {
    pub every: PeriodKind,
    /// Hours after the period's last day ends (UTC midnight) before it is closed.
    #[serde(default)]
    pub after_hours: u32,
}

/// The two kinds of period a run closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// A calendar month, `YYYY-MM`.
    Month,
    /// An ISO week, `YYYY-Www`.
    Week,
}

impl PeriodKind {
    /// Whether `period` (as runs name it) is of this kind.
    pub fn names(self, period: &str) -> bool {
        period.contains('W') == (self == PeriodKind::Week)
    }
}

/// A tenant API key. The secret itself is never stored: only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub key_id: String,
    pub tenant_id: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_sha256: String,
    pub created_at_ms: i64,
    pub revoked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributorStatus {
    Active,
    Terminated,
}

variant_names!(DistributorStatus { Active => "active", Terminated => "terminated" });

/// What a distributor may change about themselves; the genealogy is not part of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ISO 3166 alpha-2, where the distributor resides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A position in the placement tree: `slot` 1 = left / 2 = right for binary, `1..=width` for a matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub parent_id: String,
    pub slot: u8,
}

/// One distributor of one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distributor {
    pub id: String,
    /// Enrollment order within the tenant (the root is 0). The genealogy index is rebuilt by
    /// replaying enrollments in this order, which is also the order of every sponsor's recruits.
    pub node: u32,
    pub sponsor_id: Option<String>,
    pub placement: Option<Placement>,
    /// `YYYY-MM-DD`.
    pub joined_on: String,
    pub status: DistributorStatus,
    pub profile: Profile,
    /// The region whose keyspace holds this distributor's personal data (the profile): where
    /// they reside, fixed at enrollment. None: the region of the store that enrolled them
    /// (the embedded store has no regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_region: Option<String>,
}

/// One distributor's place in the genealogy, without anything personal: what a period close
/// reads of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenealogyEntry {
    pub id: String,
    /// Enrollment order within the tenant (see [`Distributor::node`]).
    pub node: u32,
    pub sponsor_id: Option<String>,
    pub placement: Option<Placement>,
    /// `YYYY-MM-DD`.
    pub joined_on: String,
    pub status: DistributorStatus,
    /// Where the profile is kept (see [`Distributor::residence_region`]); the region's name
    /// only.
    pub residence_region: Option<String>,
}

impl From<Distributor> for GenealogyEntry {
    fn from(distributor: Distributor) -> GenealogyEntry {
        GenealogyEntry {
            id: distributor.id,
            node: distributor.node,
            sponsor_id: distributor.sponsor_id,
            placement: distributor.placement,
            joined_on: distributor.joined_on,
            status: distributor.status,
            residence_region: distributor.residence_region,
        }
    }
}

/// A page of a tenant's genealogy (see `DistributorStore::genealogy_page`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenealogyPage {
    pub entries: Vec<GenealogyEntry>,
    /// Where the next page starts, to be passed back as it is; None after the last page.
    pub next: Option<String>,
}

/// One page of a tenant's profile erasure (`DistributorStore::erase_profiles`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErasedPage {
    /// Profiles of this page that held personal data and are empty now.
    pub erased: u64,
    /// Where the next page starts, to be passed back as it is; None after the last page.
    pub next: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Paid,
    Refunded,
}

variant_names!(OrderStatus { Paid => "paid", Refunded => "refunded" });

/// An order as acknowledged to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub distributor_id: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Point volume, 1/10,000.
    pub pv: i64,
    /// Commissionable value, 1/10,000 of the currency unit.
    pub cv: i64,
    pub status: OrderStatus,
    pub created_at_ms: i64,
}

/// A request to create an order under an `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub idempotency_key: String,
    /// A digest of the request body: the same key with another body is refused.
    pub request_sha256: String,
    pub order: Order,
}

/// How [`crate::OrderStore::create_order`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Stored now (with its outbox event).
    Created(Order),
    /// The key was used before with the same body: the first answer.
    Replayed(Order),
    /// The key was used before with another body.
    KeyReusedWithAnotherBody,
    /// Another request (another key) already created this order id.
    OrderIdTaken,
}

/// How [`crate::OrderStore::refund_order`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded(Order),
    AlreadyRefunded(Order),
    NotFound,
}

/// A change of one distributor's period volume, caused by one order event (or by an order of a
/// bulk import). Replays are recognised by `sequence` (see `VolumeStore::apply_volumes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDelta {
    /// The outbox sequence of the event that caused it (0 in a bulk import, which applies
    /// outside the event stream).
    pub sequence: u64,
    pub order_id: String,
    pub kind: VolumeEventKind,
    pub distributor_id: String,
    /// The period keys this order counts in (its calendar month and its ISO week).
    pub periods: Vec<String>,
    /// Day number of the order date (engine::calendar).
    pub day: i32,
    /// Signed: a refund subtracts.
    pub pv: i64,
    pub cv: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeEventKind {
    Paid,
    Refunded,
}

/// One distributor's counting volume in one period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodVolume {
    pub pv: i64,
    pub cv: i64,
    /// CV per order day (day number, CV), sorted by day: fast start counts only the days of its
    /// window, so the day is kept, never the order.
    pub cv_by_day: Vec<(i32, i64)>,
    /// The highest event sequence applied to this record: events at or below it are in it.
    #[serde(default)]
    pub applied_through: u64,
}

impl PeriodVolume {
    /// Adds a (signed) delta, keeping `cv_by_day` sorted and free of zero days. The caller
    /// decides whether the delta is new (`applied_through`, or an import's order ids).
    pub fn add(&mut self, delta: &VolumeDelta) {
        self.pv += delta.pv;
        self.cv += delta.cv;
        match self
            .cv_by_day
            .binary_search_by_key(&delta.day, |&(day, _)| day)
        {
            Ok(at) => {
                self.cv_by_day[at].1 += delta.cv;
                if self.cv_by_day[at].1 == 0 {
                    self.cv_by_day.remove(at);
                }
            }
            Err(at) if delta.cv != 0 => self.cv_by_day.insert(at, (delta.day, delta.cv)),
            Err(_) => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Computing in the background.
    Running,
    /// Computed and stored; not payable.
    Preview,
    /// Immutable; the period's result.
    Committed,
    /// Committed and every line turned into ledger transfers.
    Posted,
    /// Superseded by a restatement (its postings stay; the restatement posts the differences).
    Superseded,
    Failed,
}

variant_names!(RunStatus {
    Running => "running",
    Preview => "preview",
    Committed => "committed",
    Posted => "posted",
    Superseded => "superseded",
    Failed => "failed",
});

/// A commission run of one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub period: String,
    pub plan_version: u32,
    pub status: RunStatus,
    /// The committed run this one restates, if any.
    pub restates: Option<String>,
    pub created_at_ms: i64,
    pub distributors: u64,
    pub lines: u64,
    /// Totals per bonus, as plain decimal strings, in the order of lines.csv bonuses.
    pub totals: Vec<(String, String)>,
    /// Why a failed run failed (never internals: the engine's message).
    pub error: Option<String>,
}

/// One distributor's statement in one run: rows exactly as `upline commissions` writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub distributor_id: String,
    /// The distributor's `summary.csv` row (no line end).
    pub summary: String,
    /// The distributor's `lines.csv` rows (no line ends), in file order.
    pub lines: Vec<String>,
    /// The distributor's `state.csv` row (no line end): the next period's carry state.
    pub state: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    Commission,
    Adjustment,
    Withdrawal,
}

variant_names!(TransferKind {
    Commission => "commission",
    Adjustment => "adjustment",
    Withdrawal => "withdrawal",
});

/// A double-entry transfer: `amount` leaves `debit` and arrives in `credit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Derived from what caused it (a run and a line, a withdrawal request): posting the same
    /// id twice moves money once.
    pub id: String,
    pub debit: String,
    pub credit: String,
    /// Minor units, > 0.
    pub amount: i64,
    pub kind: TransferKind,
    /// When set, the transfer is refused if it would take `debit` below zero.
    pub debit_must_stay_non_negative: bool,
    pub created_at_ms: i64,
}

/// How one transfer of [`crate::LedgerStore::post_transfers`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    Posted,
    /// The same transfer was posted before: nothing moved.
    AlreadyPosted,
    /// The id was used before by a different transfer: nothing moved.
    IdTakenByAnotherTransfer,
    /// `debit_must_stay_non_negative` and the balance is short.
    InsufficientFunds {
        balance: i64,
    },
    AmountMustBePositive,
    AccountsMustBeDifferent,
}

/// One account of the ledger (a distributor's wallet or a system account).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// Credits minus debits, minor units.
    pub balance: i64,
    pub transfers: u64,
}

/// An event written atomically with the change it describes; the relay publishes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Position in the store's outbox; also the event id's suffix.
    pub sequence: u64,
    pub tenant_id: String,
    /// e.g. `distributor.enrolled`, `order.created`, `order.refunded`, `transfer.posted`.
    pub kind: String,
    pub payload: serde_json::Value,
}

impl OutboxEvent {
    /// The id consumers deduplicate on (`Nats-Msg-Id` when relayed to NATS).
    pub fn event_id(&self) -> String {
        format!("{}-{}", self.tenant_id, self.sequence)
    }
}

/// An event to append: the store assigns the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: &'static str,
    pub payload: serde_json::Value,
}
