//! Following the enrollments other processes make: the index side of
//! `worker::genealogy::GenealogyFollower`. The event names the distributor; the store holds
//! the record (sponsor, placement, enrollment date, residence), which is replayed into the
//! index as at start.

use crate::runtime::{rebuild_directory, tenant_runtime};
use crate::state::AppState;
use store::GenealogyEntry;

/// What following one enrollment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followed {
    Applied,
    /// The index has it already (this process enrolled it, or a copy came again).
    Known,
    /// Its sponsor or placement parent is not in the index yet.
    Ahead,
    /// No index of this tenant here (a tenant at home in another region keeps only its
    /// residents, which this region's endpoint enrolls).
    NotHere,
}

/// Takes the enrollment of `id` into the tenant's index; with `catch_up`, an enrollment still
/// ahead of the index makes the index rebuild from the store.
pub async fn follow_enrollment(
    state: &AppState,
    tenant_id: &str,
    id: &str,
    catch_up: bool,
) -> Result<Followed, String> {
    let tenant = match state.tenant(tenant_id) {
        Some(tenant) => tenant,
        // Created by another process since this one started: loaded from the store now,
        // with this enrollment in it.
        None => {
            return Ok(match tenant_runtime(state, tenant_id).await? {
                Some(_) => Followed::Known,
                None => Followed::NotHere,
            })
        }
    };
    if tenant.tenant.home_region.is_some() {
        return Ok(Followed::NotHere);
    }
    if tenant
        .directory
        .read()
        .expect("directory lock")
        .node(id)
        .is_some()
    {
        return Ok(Followed::Known);
    }
    let distributor = state
        .store()
        .distributor(tenant_id, id)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("distributor {id:?} of an enrollment event is not in the store"))?;
    let followed = {
        let mut directory = tenant.directory.write().expect("directory lock");
        if directory.node(id).is_some() {
            return Ok(Followed::Known);
        }
        directory.follow(&GenealogyEntry::from(distributor))
    };
    match followed {
        Ok(()) => Ok(Followed::Applied),
        Err(_) if !catch_up => Ok(Followed::Ahead),
        Err(error) => {
            tracing::warn!(tenant = tenant_id, %id, %error, "the genealogy index misses enrollments; rebuilding it from the store");
            rebuild_directory(&**state.store(), &tenant).await?;
            Ok(Followed::Known)
        }
    }
}
