//! Orders and idempotency keys.

use super::codec::key;
use super::tables::{IDEMPOTENCY_KEYS, ORDERS};
use super::writer::{backend, encode_event};
use super::{codec, get_in, put_in, EmbeddedStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{
    NewEvent, NewOrder, Order, OrderOutcome, OrderStatus, RefundOutcome, VolumeDelta,
};
use crate::traits::OrderStore;
use async_trait::async_trait;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// What an idempotency key remembers: the request it first came with and the order it made.
#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    request_sha256: String,
    order_id: String,
}

#[async_trait]
impl OrderStore for EmbeddedStore {
    async fn create_order(
        &self,
        tenant_id: &str,
        new_order: NewOrder,
    ) -> StoreResult<OrderOutcome> {
        // Everything that can be computed before the batch is: the writer thread only looks
        // up and inserts bytes.
        let key_key = key(&[tenant_id, &new_order.idempotency_key]);
        let order_key = key(&[tenant_id, &new_order.order.order_id]);
        let record = codec::encode(&IdempotencyRecord {
            request_sha256: new_order.request_sha256.clone(),
            order_id: new_order.order.order_id.clone(),
        });
        let order_bytes = codec::encode(&new_order.order);
        let event = encode_event(
            tenant_id,
            NewEvent {
                kind: "order.created",
                payload: serde_json::to_value(&new_order.order).expect("orders serialize"),
            },
        );
        let tenant_id = tenant_id.to_owned();
        self.writer
            .write(move |context| {
                if let Some(first) =
                    get_in::<IdempotencyRecord>(context, IDEMPOTENCY_KEYS, &key_key)?
                {
                    if first.request_sha256 != new_order.request_sha256 {
                        return Ok(OrderOutcome::KeyReusedWithAnotherBody);
                    }
                    let first_order_key = key(&[&tenant_id, &first.order_id]);
                    let order =
                        get_in::<Order>(context, ORDERS, &first_order_key)?.ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "idempotency key without its order {:?}",
                                first.order_id
                            ))
                        })?;
                    return Ok(OrderOutcome::Replayed(order));
                }
                let orders = context.table(ORDERS)?;
                if orders.get(order_key.as_slice()).map_err(backend)?.is_some() {
                    return Ok(OrderOutcome::OrderIdTaken);
                }
                orders
                    .insert(order_key.as_slice(), order_bytes.as_slice())
                    .map_err(backend)?;
                context
                    .table(IDEMPOTENCY_KEYS)?
                    .insert(key_key.as_slice(), record.as_slice())
                    .map_err(backend)?;
                context.emit_encoded(&event)?;
                Ok(OrderOutcome::Created(new_order.order))
            })
            .await
    }

    async fn refund_order(&self, tenant_id: &str, order_id: &str) -> StoreResult<RefundOutcome> {
        let tenant_id = tenant_id.to_owned();
        let order_key = key(&[&tenant_id, order_id]);
        self.writer
            .write(move |context| {
                let Some(mut order) = get_in::<Order>(context, ORDERS, &order_key)? else {
                    return Ok(RefundOutcome::NotFound);
                };
                if order.status == OrderStatus::Refunded {
                    return Ok(RefundOutcome::AlreadyRefunded(order));
                }
                order.status = OrderStatus::Refunded;
                put_in(context, ORDERS, &order_key, &order)?;
                context.emit(
                    &tenant_id,
                    NewEvent {
                        kind: "order.refunded",
                        payload: serde_json::to_value(&order).expect("orders serialize"),
                    },
                )?;
                Ok(RefundOutcome::Refunded(order))
            })
            .await
    }

    async fn import_orders(
        &self,
        tenant_id: &str,
        mut orders: Vec<NewOrder>,
        mut deltas: Vec<VolumeDelta>,
    ) -> StoreResult<u64> {
        let tenant_id = tenant_id.to_owned();
        // Key order keeps each table's writes together: a B-tree copies the pages a transaction
        // touches, so scattered keys would copy most of the tree per batch.
        orders.sort_unstable_by(|a, b| a.order.order_id.cmp(&b.order.order_id));
        deltas.sort_unstable_by(|a, b| a.distributor_id.cmp(&b.distributor_id));
        self.writer
            .write(move |context| {
                let mut created = std::collections::HashSet::new();
                for new_order in orders {
                    let key_key = key(&[&tenant_id, &new_order.idempotency_key]);
                    let order_key = key(&[&tenant_id, &new_order.order.order_id]);
                    let taken = get_in::<IdempotencyRecord>(context, IDEMPOTENCY_KEYS, &key_key)?
                        .is_some()
                        || get_in::<Order>(context, ORDERS, &order_key)?.is_some();
                    if taken {
                        continue;
                    }
                    let record = IdempotencyRecord {
                        request_sha256: new_order.request_sha256,
                        order_id: new_order.order.order_id.clone(),
                    };
                    put_in(context, IDEMPOTENCY_KEYS, &key_key, &record)?;
                    put_in(context, ORDERS, &order_key, &new_order.order)?;
                    created.insert(new_order.order.order_id);
                }
                deltas.retain(|delta| created.contains(&delta.order_id));
                super::volumes::apply_deltas(
                    context,
                    &tenant_id,
                    &deltas,
                    super::volumes::DeltaSource::Import,
                )?;
                Ok(created.len() as u64)
            })
            .await
    }

    async fn order(&self, tenant_id: &str, order_id: &str) -> StoreResult<Option<Order>> {
        self.get(ORDERS, &key(&[tenant_id, order_id]))
    }

    async fn orders(&self, tenant_id: &str) -> StoreResult<Vec<Order>> {
        Ok(self
            .scan(ORDERS, &[tenant_id])
            .await?
            .into_iter()
            .map(|(_, order)| order)
            .collect())
    }
}
