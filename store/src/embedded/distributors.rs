//! Distributors.

use super::codec::{decode, key, prefix_range};
use super::tables::DISTRIBUTORS;
use super::writer::backend;
use super::{get_in, put_in, EmbeddedStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    Distributor, DistributorStatus, ErasedPage, GenealogyEntry, GenealogyPage, NewEvent, Profile,
};
use crate::traits::DistributorStore;
use async_trait::async_trait;
use redb::ReadableTable as _;
use std::ops::Bound;

#[async_trait]
impl DistributorStore for EmbeddedStore {
    async fn enroll(
        &self,
        tenant_id: &str,
        distributors: Vec<Distributor>,
    ) -> StoreResult<Vec<StoreResult<bool>>> {
        let tenant_id = tenant_id.to_owned();
        self.writer
            .write(move |context| {
                let mut outcomes = Vec::with_capacity(distributors.len());
                for distributor in distributors {
                    let record_key = key(&[&tenant_id, &distributor.id]);
                    match get_in::<Distributor>(context, DISTRIBUTORS, &record_key)? {
                        Some(existing) if existing == distributor => outcomes.push(Ok(false)),
                        Some(_) => outcomes.push(Err(StoreError::conflict(format!(
                            "distributor {:?}",
                            distributor.id
                        )))),
                        None => {
                            put_in(context, DISTRIBUTORS, &record_key, &distributor)?;
                            context.emit(
                                &tenant_id,
                                NewEvent {
                                    kind: "distributor.enrolled",
                                    payload: serde_json::json!({
                                        "id": distributor.id,
                                        "node": distributor.node,
                                        "sponsor_id": distributor.sponsor_id,
                                    }),
                                },
                            )?;
                            outcomes.push(Ok(true));
                        }
                    }
                }
                Ok(outcomes)
            })
            .await
    }

    async fn distributor(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Distributor>> {
        self.get(DISTRIBUTORS, &key(&[tenant_id, id]))
    }

    async fn update_profile(
        &self,
        tenant_id: &str,
        id: &str,
        profile: Profile,
    ) -> StoreResult<Option<Distributor>> {
        self.change(tenant_id, id, "distributor.updated", move |distributor| {
            distributor.profile = profile
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
        let mut distributors: Vec<Distributor> = self
            .scan(DISTRIBUTORS, &[tenant_id])
            .await?
            .into_iter()
            .map(|(_, distributor)| distributor)
            .collect();
        distributors.sort_unstable_by_key(|distributor| distributor.node);
        Ok(distributors)
    }

    async fn genealogy_page(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<GenealogyPage> {
        // Pages in id order (the table's key order); a page resumes after the last id of the
        // one before.
        let limit = limit.max(1);
        let after = from.map(|id| key(&[tenant_id, id]));
        let records = self
            .scan_after::<Distributor>(DISTRIBUTORS, &[tenant_id], after, limit)
            .await?;
        let next = match records.last() {
            Some((_, last)) if records.len() == limit => Some(last.id.clone()),
            _ => None,
        };
        Ok(GenealogyPage {
            entries: records
                .into_iter()
                .map(|(_, distributor)| GenealogyEntry::from(distributor))
                .collect(),
            next,
        })
    }

    async fn erase_profiles(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<ErasedPage> {
        // One transaction per page, in id order: read the page's records, empty the profiles
        // that hold anything, each with its event.
        let limit = limit.max(1);
        let tenant_id = tenant_id.to_owned();
        let (start, end) = prefix_range(&[&tenant_id]);
        let after = from.map(|id| key(&[&tenant_id, id]));
        self.writer
            .write(move |context| {
                let page = {
                    let from = match &after {
                        Some(after) => Bound::Excluded(after.as_slice()),
                        None => Bound::Included(start.as_slice()),
                    };
                    let table = context.table(DISTRIBUTORS)?;
                    let mut page = Vec::new();
                    for entry in table
                        .range::<&[u8]>((from, Bound::Excluded(end.as_slice())))
                        .map_err(backend)?
                        .take(limit)
                    {
                        let (record_key, value) = entry.map_err(backend)?;
                        let distributor: Distributor = decode(value.value())?;
                        page.push((record_key.value().to_vec(), distributor));
                    }
                    page
                };
                let next = match page.last() {
                    Some((_, last)) if page.len() == limit => Some(last.id.clone()),
                    _ => None,
                };
                let mut erased = 0;
                for (record_key, mut distributor) in page {
                    if distributor.profile == Profile::default() {
                        continue;
                    }
                    distributor.profile = Profile::default();
                    put_in(context, DISTRIBUTORS, &record_key, &distributor)?;
                    context.emit(
                        &tenant_id,
                        NewEvent {
                            kind: "distributor.updated",
                            payload: serde_json::json!({ "id": distributor.id }),
                        },
                    )?;
                    erased += 1;
                }
                Ok(ErasedPage { erased, next })
            })
            .await
    }
}

impl EmbeddedStore {
    /// Changes one distributor with an event of `kind`; unchanged records write nothing.
    async fn change(
        &self,
        tenant_id: &str,
        id: &str,
        kind: &'static str,
        edit: impl FnOnce(&mut Distributor) + Send + 'static,
    ) -> StoreResult<Option<Distributor>> {
        let tenant_id = tenant_id.to_owned();
        let record_key = key(&[&tenant_id, id]);
        self.writer
            .write(move |context| {
                let Some(before) = get_in::<Distributor>(context, DISTRIBUTORS, &record_key)?
                else {
                    return Ok(None);
                };
                let mut after = before.clone();
                edit(&mut after);
                if after != before {
                    put_in(context, DISTRIBUTORS, &record_key, &after)?;
                    context.emit(
                        &tenant_id,
                        NewEvent {
                            kind,
                            payload: serde_json::json!({ "id": after.id }),
                        },
                    )?;
                }
                Ok(Some(after))
            })
            .await
    }
}
