//! The genealogy rows of distributors, bucketed by id within the tenant; each one's personal
//! data is a profile in the keyspace of their residence region (`profiles`).

use super::cql::{
    self, bucket, from_cql_date, prepare, to_bigint, to_cql_date, unset_if_none, BUCKETS_IN_FLIGHT,
};
use super::outbox::Ticket;
use super::profiles::ProfileWrite;
use super::schema::BUCKETS;
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Distributor, DistributorStatus, ErasedPage, GenealogyEntry, GenealogyPage, NewEvent, Placement,
    Profile,
};
use crate::traits::DistributorStore;
use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlDate;

/// Enrollments of one call made at once.
const ENROLLMENTS_IN_FLIGHT: usize = 64;
/// Profiles of one erasure page emptied at once.
const ERASURES_IN_FLIGHT: usize = 64;

pub(super) struct DistributorStatements {
    claim: PreparedStatement,
    select: PreparedStatement,
    select_bucket: PreparedStatement,
    change: PreparedStatement,
}

const COLUMNS: &str = "distributor_id, node, sponsor_id, placement_parent_id, placement_slot, \
    joined_on, status, residence_region, event_sequence";

type DistributorRow = (
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<i8>,
    Option<CqlDate>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

impl DistributorStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        Ok(DistributorStatements {
            claim: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.distributors (tenant_id, bucket, {COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            select: prepare(
                session,
                format!(
                    "SELECT {COLUMNS} FROM {regional}.distributors \
                     WHERE tenant_id = ? AND bucket = ? AND distributor_id = ?"
                ),
                true,
            )
            .await?,
            select_bucket: prepare(
                session,
                format!(
                    "SELECT {COLUMNS} FROM {regional}.distributors WHERE tenant_id = ? AND bucket = ?"
                ),
                true,
            )
            .await?,
            // The event sequence is the row's version: a change applies only on top of the
            // state it was computed from.
            change: prepare(
                session,
                format!(
                    "UPDATE {regional}.distributors SET status = ?, \
                     event_sequence = ? WHERE tenant_id = ? AND bucket = ? AND distributor_id = ? \
                     IF event_sequence = ?"
                ),
                false,
            )
            .await?,
        })
    }
}

/// A stored row as the model's record (its profile still empty), with the row's event
/// sequence (its version).
fn distributor_from(row: DistributorRow) -> StoreResult<(Distributor, i64)> {
    let (id, node, sponsor_id, parent, slot, joined_on, status, residence_region, sequence) = row;
    let status = status
        .as_deref()
        .and_then(DistributorStatus::parse)
        .ok_or_else(|| StoreError::Corrupt(format!("distributor {id}: status {status:?}")))?;
    let placement = match (parent, slot) {
        (Some(parent_id), Some(slot)) => Some(Placement {
            parent_id,
            slot: slot as u8,
        }),
        _ => None,
    };
    let distributor = Distributor {
        node: node.unwrap_or(0) as u32,
        sponsor_id,
        placement,
        joined_on: joined_on.map(from_cql_date).unwrap_or_default(),
        status,
        profile: Profile::default(),
        residence_region,
        id,
    };
    Ok((distributor, sequence.unwrap_or(0)))
}

/// The record without its personal data: what the genealogy row holds.
fn genealogy_of(distributor: &Distributor) -> Distributor {
    Distributor {
        profile: Profile::default(),
        ..distributor.clone()
    }
}

impl ScyllaStore {
    /// The genealogy row (an empty profile) and its version.
    async fn read_genealogy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<(Distributor, i64)>> {
        let row: Option<DistributorRow> = cql::maybe_row(
            &self.session,
            &self.distributors.select,
            (tenant_id, bucket(id), id),
        )
        .await?;
        row.map(distributor_from).transpose()
    }

    /// The whole record: the genealogy row and the profile from the residence region.
    async fn read_distributor(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<(Distributor, i64)>> {
        let Some((mut distributor, version)) = self.read_genealogy(tenant_id, id).await? else {
            return Ok(None);
        };
        if let Some(profile) = self.read_profile(tenant_id, &distributor).await? {
            distributor.profile = profile;
        }
        Ok(Some((distributor, version)))
    }

    /// The row's event sequence, to tell a real event from one whose change never happened;
    /// `serial`: a final answer (see `cql::serial_if`).
    pub(super) async fn distributor_event_sequence(
        &self,
        tenant_id: &str,
        id: &str,
        serial: bool,
    ) -> StoreResult<Option<i64>> {
        let row: Option<DistributorRow> = cql::maybe_row(
            &self.session,
            &cql::serial_if(&self.distributors.select, serial),
            (tenant_id, bucket(id), id),
        )
        .await?;
        Ok(row.map(|row| row.8.unwrap_or(0)))
    }

    async fn enroll_one(
        &self,
        tenant_id: &str,
        distributor: &Distributor,
        ticket: Ticket<'_>,
    ) -> StoreResult<bool> {
        let joined_on = to_cql_date("joined_on", &distributor.joined_on)?;
        let sequence = to_bigint(ticket.sequence);
        let event = NewEvent {
            kind: "distributor.enrolled",
            payload: serde_json::json!({
                "id": distributor.id,
                "node": distributor.node,
                "sponsor_id": distributor.sponsor_id,
            }),
        };
        let claimed = self
            .with_event_on(ticket, tenant_id, event, |sequence| {
                let placement = distributor.placement.as_ref();
                cql::conditional(
                    &self.session,
                    &self.distributors.claim,
                    (
                        tenant_id,
                        bucket(&distributor.id),
                        &distributor.id,
                        distributor.node as i32,
                        unset_if_none(distributor.sponsor_id.as_ref()),
                        unset_if_none(placement.map(|placement| &placement.parent_id)),
                        unset_if_none(placement.map(|placement| placement.slot as i8)),
                        joined_on,
                        distributor.status.as_str(),
                        unset_if_none(distributor.residence_region.as_ref()),
                        to_bigint(sequence),
                    ),
                )
            })
            .await?;
        if claimed {
            // The profile follows its genealogy row: a distributor id is claimed once, so
            // nobody else's profile is overwritten. If this write fails the enrollment is
            // not acknowledged, and its retry (below) writes the profile.
            self.write_profile(tenant_id, distributor, sequence, ProfileWrite::First)
                .await?;
            return Ok(true);
        }
        let conflict = || StoreError::conflict(format!("distributor {:?}", distributor.id));
        let Some((existing, version)) = self.read_genealogy(tenant_id, &distributor.id).await?
        else {
            return Err(conflict());
        };
        if existing != genealogy_of(distributor) {
            return Err(conflict());
        }
        if !self.profiles.writes_profile_of(distributor) {
            return Ok(false);
        }
        match self.read_profile(tenant_id, &existing).await? {
            Some(profile) if profile == distributor.profile => Ok(false),
            Some(_) => Err(conflict()),
            // An earlier attempt claimed the row and failed before its profile.
            None => {
                self.write_profile(tenant_id, distributor, version, ProfileWrite::First)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Changes one distributor with an event of `kind`; an unchanged record writes nothing.
    /// Concurrent changes of one distributor are serialised by the compare-and-set.
    async fn change(
        &self,
        tenant_id: &str,
        id: &str,
        kind: &'static str,
        edit: impl Fn(&mut Distributor),
    ) -> StoreResult<Option<Distributor>> {
        loop {
            let Some((before, version)) = self.read_distributor(tenant_id, id).await? else {
                return Ok(None);
            };
            let mut after = before.clone();
            edit(&mut after);
            if after == before {
                return Ok(Some(after));
            }
            let event = NewEvent {
                kind,
                payload: serde_json::json!({ "id": id }),
            };
            let ticket = self.outbox.ticket(&self.session).await?;
            let sequence = to_bigint(ticket.sequence);
            let changed = self
                .with_event_on(ticket, tenant_id, event, |sequence| {
                    cql::conditional(
                        &self.session,
                        &self.distributors.change,
                        (
                            after.status.as_str(),
                            to_bigint(sequence),
                            tenant_id,
                            bucket(id),
                            id,
                            version,
                        ),
                    )
                })
                .await?;
            if changed {
                // After the claim, as for an enrollment; the write's timestamp is the change's
                // sequence, so of two changes the later wins even if its write lands first.
                if after.profile != before.profile {
                    self.write_profile(tenant_id, &after, sequence, ProfileWrite::Change)
                        .await?;
                }
                return Ok(Some(after));
            }
        }
    }
}

#[async_trait]
impl DistributorStore for ScyllaStore {
    async fn enroll(
        &self,
        tenant_id: &str,
        distributors: Vec<Distributor>,
    ) -> StoreResult<Vec<StoreResult<bool>>> {
        // Every profile must have a place before anything is written: a region of the
        // deployment, or (empty) one outside it.
        for distributor in &distributors {
            self.profiles.upsert_for(distributor)?;
        }
        // Sequences are taken in input order, so a sponsor's enrollment event precedes its
        // recruits'; the enrollments themselves then run in parallel.
        let mut tickets = Vec::with_capacity(distributors.len());
        for _ in &distributors {
            tickets.push(self.outbox.ticket(&self.session).await?);
        }
        // Futures made up front (see `import_orders`).
        let enrollments: Vec<_> = distributors
            .iter()
            .zip(tickets)
            .map(|(distributor, ticket)| self.enroll_one(tenant_id, distributor, ticket))
            .collect();
        let results: Vec<StoreResult<bool>> = futures_util::stream::iter(enrollments)
            .buffered(ENROLLMENTS_IN_FLIGHT)
            .collect()
            .await;
        let mut outcomes = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Err(StoreError::Conflict { what }) => {
                    outcomes.push(Err(StoreError::Conflict { what }))
                }
                other => outcomes.push(Ok(other?)),
            }
        }
        Ok(outcomes)
    }

    async fn distributor(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Distributor>> {
        Ok(self
            .read_distributor(tenant_id, id)
            .await?
            .map(|(distributor, _)| distributor))
    }

    async fn update_profile(
        &self,
        tenant_id: &str,
        id: &str,
        profile: Profile,
    ) -> StoreResult<Option<Distributor>> {
        self.change(tenant_id, id, "distributor.updated", |distributor| {
            distributor.profile = profile.clone()
        })
        .await
    }

    async fn terminate(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Distributor>> {
        self.change(tenant_id, id, "distributor.terminated", |distributor| {
            distributor.status = DistributorStatus::Terminated
        })
        .await
    }

    async fn distributors(&self, tenant_id: &str) -> StoreResult<Vec<Distributor>> {
        let rows: Vec<DistributorRow> =
            cql::all_buckets(&self.session, &self.distributors.select_bucket, |bucket| {
                (tenant_id, bucket)
            })
            .await?;
        let mut profiles = self.all_profiles(tenant_id).await?;
        let mut distributors = rows
            .into_iter()
            .map(|row| {
                let (mut distributor, _) = distributor_from(row)?;
                if let Some(profile) = profiles.remove(&distributor.id) {
                    distributor.profile = profile;
                }
                Ok(distributor)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        distributors.sort_unstable_by_key(|distributor| distributor.node);
        Ok(distributors)
    }

    async fn genealogy_page(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<GenealogyPage> {
        // A page is a run of whole buckets (each a 256th of the tenant), read a few at once
        // until the page holds `limit`; `next` is the first bucket not read. The profiles,
        // in every region's keyspace, are not read at all.
        let mut first = bucket_cursor(from, i64::from(BUCKETS), "genealogy page")? as i16;
        let mut entries = Vec::new();
        while first < BUCKETS && entries.len() < limit {
            let end = (first + BUCKETS_IN_FLIGHT).min(BUCKETS);
            let buckets: Vec<Vec<DistributorRow>> = cql::buckets_in(
                &self.session,
                &self.distributors.select_bucket,
                first..end,
                |bucket| (tenant_id, bucket),
            )
            .await?;
            for row in buckets.into_iter().flatten() {
                entries.push(GenealogyEntry::from(distributor_from(row)?.0));
            }
            first = end;
        }
        Ok(GenealogyPage {
            entries,
            next: (first < BUCKETS).then(|| first.to_string()),
        })
    }

    async fn erase_profiles(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<ErasedPage> {
        // The profiles tables are walked, not the genealogy: region after region (in the
        // order of `residence_regions`), a run of whole buckets per page; the cursor numbers
        // the next bucket as region × BUCKETS + bucket. A profile holding personal data is
        // emptied by the change `update_profile` makes (its event, its compare-and-set, its
        // write timestamp), a few at once.
        let regions = self.profiles.regions().len() as i64;
        let end = regions * i64::from(BUCKETS);
        let mut at = bucket_cursor(from, end, "profile erasure page")?;
        let mut read = 0;
        let mut holding = Vec::new();
        while at < end && read < limit {
            let region = (at / i64::from(BUCKETS)) as usize;
            let first = (at % i64::from(BUCKETS)) as i16;
            let last = (first + BUCKETS_IN_FLIGHT).min(BUCKETS);
            let (ids, rows) = self
                .holding_personal_data(tenant_id, region, first..last)
                .await?;
            read += rows;
            holding.extend(ids);
            at = region as i64 * i64::from(BUCKETS) + i64::from(last);
        }
        let erasures: Vec<_> = holding
            .iter()
            .map(|id| {
                self.change(tenant_id, id, "distributor.updated", |distributor| {
                    distributor.profile = Profile::default()
                })
            })
            .collect();
        let erased = futures_util::stream::iter(erasures)
            .buffer_unordered(ERASURES_IN_FLIGHT)
            .try_fold(0, |erased, changed| async move {
                // None: no genealogy row here (a profile kept for another deployment's
                // distributor), nothing of ours to change.
                Ok(erased + u64::from(changed.is_some()))
            })
            .await?;
        Ok(ErasedPage {
            erased,
            next: (at < end).then(|| at.to_string()),
        })
    }

    fn residence_regions(&self) -> Option<&[String]> {
        Some(self.profiles.regions())
    }

    fn serving_region(&self) -> Option<&str> {
        Some(self.profiles.own_region())
    }
}

/// The bucket a page starts at: 0 for the first page, else the cursor the page before gave,
/// which must be below `end`.
fn bucket_cursor(from: Option<&str>, end: i64, what: &str) -> StoreResult<i64> {
    let Some(cursor) = from else {
        return Ok(0);
    };
    cursor
        .parse::<i64>()
        .ok()
        .filter(|at| (0..end).contains(at))
        .ok_or_else(|| StoreError::Backend(format!("{what} {cursor:?} is not a bucket")))
}
