//! Personal data: each distributor's profile lives in the keyspace of the region they reside
//! in, which need not be the region whose keyspace holds their genealogy row.
//!
//! A distributor may also reside in a region outside this deployment: a tenant at home here
//! enrolls, through the enrollment service, the distributors residing in another deployment's
//! region. This deployment keeps their genealogy row only; their profile is kept where they
//! reside, so here it is always empty (a profile given for them is refused, never stored).
//!
//! A profile of another region is written and read through that region's datacenter (an
//! execution profile that prefers it, with no failover), so `LOCAL_QUORUM` is that region's
//! quorum: the keyspace has no replicas anywhere else. Every write carries the event
//! sequence of its change as the write timestamp: the latest change wins whatever order the
//! writes land in, and rewriting a change is harmless (the statement is idempotent).

use super::cql::{self, bucket, prepare};
use super::{routed_to, ScyllaConfig, ScyllaStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{Distributor, Profile};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use std::collections::{BTreeMap, HashMap};

/// The profile statements of every region of the deployment.
pub(super) struct ProfileStatements {
    /// The region of this process: a distributor without a residence region resides here.
    own_region: String,
    by_region: BTreeMap<String, RegionProfiles>,
    /// The keys of `by_region`, kept as a list so that asking for them allocates nothing.
    regions: Vec<String>,
}

/// One region's `profiles` table.
struct RegionProfiles {
    upsert: PreparedStatement,
    select: PreparedStatement,
    select_bucket: PreparedStatement,
}

type ProfileRow = (Option<String>, Option<String>, Option<String>);
/// A profile row of a bucket listing: the distributor id first.
type ListedProfileRow = (String, Option<String>, Option<String>, Option<String>);

fn profile_from((name, email, country): ProfileRow) -> Profile {
    Profile {
        name,
        email,
        country,
    }
}

impl ProfileStatements {
    pub(super) async fn prepare(session: &Session, config: &ScyllaConfig) -> Result<Self, String> {
        let mut by_region = BTreeMap::new();
        for (region, datacenter) in &config.datacenters {
            let keyspace = config.regional_keyspace(region);
            let mut statements = RegionProfiles {
                upsert: prepare(
                    session,
                    format!(
                        "INSERT INTO {keyspace}.profiles (tenant_id, bucket, distributor_id, name, email, country) \
                         VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
                    ),
                    true,
                )
                .await?,
                select: prepare(
                    session,
                    format!(
                        "SELECT name, email, country FROM {keyspace}.profiles \
                         WHERE tenant_id = ? AND bucket = ? AND distributor_id = ?"
                    ),
                    true,
                )
                .await?,
                select_bucket: prepare(
                    session,
                    format!(
                        "SELECT distributor_id, name, email, country FROM {keyspace}.profiles \
                         WHERE tenant_id = ? AND bucket = ?"
                    ),
                    true,
                )
                .await?,
            };
            if *region != config.region {
                let handle = routed_to(datacenter).into_handle();
                for statement in [
                    &mut statements.upsert,
                    &mut statements.select,
                    &mut statements.select_bucket,
                ] {
                    statement.set_execution_profile_handle(Some(handle.clone()));
                }
            }
            by_region.insert(region.clone(), statements);
        }
        Ok(ProfileStatements {
            own_region: config.region.clone(),
            regions: by_region.keys().cloned().collect(),
            by_region,
        })
    }

    pub(super) fn own_region(&self) -> &str {
        &self.own_region
    }

    /// The regions a distributor may reside in: every region of the deployment.
    pub(super) fn regions(&self) -> &[String] {
        &self.regions
    }

    /// Where the distributor's profile is kept: a region of this deployment and its
    /// statements, or None when they reside outside the deployment (their profile is empty
    /// here; a non-empty one is refused).
    fn kept_in(&self, distributor: &Distributor) -> StoreResult<Option<(&str, &RegionProfiles)>> {
        let region = distributor
            .residence_region
            .as_deref()
            .unwrap_or(&self.own_region);
        match self.by_region.get_key_value(region) {
            Some((region, statements)) => Ok(Some((region.as_str(), statements))),
            None if distributor.profile == Profile::default() => Ok(None),
            None => Err(StoreError::Backend(format!(
                "distributor {:?} resides in region {region:?}, outside this deployment: their \
                 profile is kept there, never here (if {region} belongs to this deployment, add \
                 --datacenter {region}=DC)",
                distributor.id
            ))),
        }
    }

    /// Whether this process writes (and on a retry, compares) the distributor's profile. Not
    /// for an empty profile of a distributor residing in another region: they enrolled through
    /// their region's endpoint, which writes their profile there (a tenant at home here, whose
    /// home region placed them over NATS). Writing the empty one would overwrite theirs.
    pub(super) fn writes_profile_of(&self, distributor: &Distributor) -> bool {
        let resides_here = distributor
            .residence_region
            .as_deref()
            .is_none_or(|region| region == self.own_region);
        resides_here || distributor.profile != Profile::default()
    }

    /// The statement that writes the distributor's profile and the region it writes in; None
    /// when the profile is kept outside this deployment or written by another region.
    pub(super) fn upsert_for(
        &self,
        distributor: &Distributor,
    ) -> StoreResult<Option<(&str, &PreparedStatement)>> {
        if !self.writes_profile_of(distributor) {
            return Ok(None);
        }
        Ok(self
            .kept_in(distributor)?
            .map(|(region, statements)| (region, &statements.upsert)))
    }
}

/// Which write of a profile an upsert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProfileWrite {
    /// The profile's first write (an enrollment, a bulk load): a field it lacks is left
    /// unset, not written as null — CQL keeps a null as a tombstone, and a new row's unset
    /// field reads back as null all the same.
    First,
    /// A change: an absent field is written as null, which empties it.
    Change,
}

/// A profile field as an upsert writes it.
pub(super) type ProfileField<'d> = MaybeUnset<Option<&'d String>>;

/// The values of a profile upsert: the distributor's profile as of write `timestamp`.
pub(super) type ProfileValues<'d> = (
    &'d str,
    i16,
    &'d str,
    ProfileField<'d>,
    ProfileField<'d>,
    ProfileField<'d>,
    i64,
);

pub(super) fn profile_values<'d>(
    tenant_id: &'d str,
    distributor: &'d Distributor,
    timestamp: i64,
    write: ProfileWrite,
) -> ProfileValues<'d> {
    let field = |value: &'d Option<String>| match (value, write) {
        (None, ProfileWrite::First) => MaybeUnset::Unset,
        _ => MaybeUnset::Set(value.as_ref()),
    };
    let profile = &distributor.profile;
    (
        tenant_id,
        bucket(&distributor.id),
        &distributor.id,
        field(&profile.name),
        field(&profile.email),
        field(&profile.country),
        timestamp,
    )
}

impl ScyllaStore {
    /// Writes the distributor's profile in their residence region, as of the change with
    /// event `sequence`.
    pub(super) async fn write_profile(
        &self,
        tenant_id: &str,
        distributor: &Distributor,
        sequence: i64,
        write: ProfileWrite,
    ) -> StoreResult<()> {
        if !self.profiles.writes_profile_of(distributor) {
            return Ok(());
        }
        let Some((_, statements)) = self.profiles.kept_in(distributor)? else {
            return Ok(());
        };
        cql::execute(
            &self.session,
            &statements.upsert,
            profile_values(tenant_id, distributor, sequence, write),
        )
        .await
    }

    /// The distributor's stored profile; None when it was never written.
    pub(super) async fn read_profile(
        &self,
        tenant_id: &str,
        distributor: &Distributor,
    ) -> StoreResult<Option<Profile>> {
        let Some((_, statements)) = self.profiles.kept_in(distributor)? else {
            return Ok(Some(Profile::default()));
        };
        let row: Option<ProfileRow> = cql::maybe_row(
            &self.session,
            &statements.select,
            (tenant_id, bucket(&distributor.id), &distributor.id),
        )
        .await?;
        Ok(row.map(profile_from))
    }

    /// The distributors whose profile holds personal data, in `buckets` of the `region`-th
    /// region of [`ProfileStatements::regions`]; with the number of profile rows read.
    pub(super) async fn holding_personal_data(
        &self,
        tenant_id: &str,
        region: usize,
        buckets: std::ops::Range<i16>,
    ) -> StoreResult<(Vec<String>, usize)> {
        let region = &self.profiles.regions[region];
        let statements = &self.profiles.by_region[region];
        let rows: Vec<Vec<ListedProfileRow>> = cql::buckets_in(
            &self.session,
            &statements.select_bucket,
            buckets,
            |bucket| (tenant_id, bucket),
        )
        .await?;
        let read = rows.iter().map(Vec::len).sum();
        let holding = rows
            .into_iter()
            .flatten()
            .filter(|(_, name, email, country)| {
                name.is_some() || email.is_some() || country.is_some()
            })
            .map(|(id, ..)| id)
            .collect();
        Ok((holding, read))
    }

    /// Every profile of the tenant, from every region's keyspace.
    pub(super) async fn all_profiles(
        &self,
        tenant_id: &str,
    ) -> StoreResult<HashMap<String, Profile>> {
        let mut profiles = HashMap::new();
        for statements in self.profiles.by_region.values() {
            let rows: Vec<ListedProfileRow> =
                cql::all_buckets(&self.session, &statements.select_bucket, |bucket| {
                    (tenant_id, bucket)
                })
                .await?;
            for (id, name, email, country) in rows {
                profiles.insert(id, profile_from((name, email, country)));
            }
        }
        Ok(profiles)
    }
}
