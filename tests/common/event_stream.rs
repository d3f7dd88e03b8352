//! Reading a region's events stream from its start, as a test that counts what `upline serve`
//! published (tenant `acme`): enrollments, orders each once, and nothing personal.
#![allow(dead_code)]

use super::nats::unique;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{headers, Consumer, ConsumerConfig, EventBus};
use worker::streams::RegionStreams;

/// Reads the region's events stream from its start and counts what it holds.
pub struct StreamReader {
    reader: Box<dyn Consumer>,
    subject_prefix: String,
    /// Deliveries per order id.
    pub orders: BTreeMap<String, usize>,
    pub enrolled: usize,
    /// Every payload read, as text.
    pub payloads: Vec<String>,
    /// Every kind read.
    pub kinds: Vec<String>,
}

impl StreamReader {
    pub async fn new(url: &str, prefix: &str) -> StreamReader {
        let streams = RegionStreams::new(prefix, "local");
        let bus = JetStreamBus::connect(url, streams.events()).await.unwrap();
        let reader = bus
            .consumer(ConsumerConfig::new(unique("test-reader")))
            .await
            .unwrap();
        StreamReader {
            reader,
            subject_prefix: streams.events_subject_prefix(),
            orders: BTreeMap::new(),
            enrolled: 0,
            payloads: Vec::new(),
            kinds: Vec::new(),
        }
    }

    /// Reads until the stream has shown `enrolled` enrollments and `orders` distinct orders,
    /// or for two minutes (a hang detector: the assertions after it tell what was missing).
    pub async fn read_until(&mut self, enrolled: usize, orders: usize) {
        for _ in 0..600 {
            if self.orders.len() >= orders && self.enrolled >= enrolled {
                return;
            }
            self.read_some().await;
        }
    }

    /// Reads until an event of `kind` has come, or for two minutes.
    pub async fn read_until_kind(&mut self, kind: &str) {
        for _ in 0..600 {
            if self.kinds.iter().any(|read| read == kind) {
                return;
            }
            self.read_some().await;
        }
        panic!("no {kind} event on the stream; read {:?}", self.kinds);
    }

    pub async fn read_some(&mut self) {
        {
            for delivery in self
                .reader
                .fetch(100, Duration::from_millis(200))
                .await
                .unwrap()
            {
                assert!(delivery.subject.starts_with(&self.subject_prefix));
                assert_eq!(delivery.header(headers::TENANT), Some("acme"));
                self.payloads
                    .push(String::from_utf8_lossy(&delivery.payload).into_owned());
                self.kinds.push(
                    delivery
                        .header(headers::KIND)
                        .unwrap_or_default()
                        .to_owned(),
                );
                match delivery.header(headers::KIND) {
                    Some("order.created") => {
                        let order: Value = serde_json::from_slice(&delivery.payload).unwrap();
                        let id = order["order_id"].as_str().unwrap().to_owned();
                        *self.orders.entry(id).or_default() += 1;
                    }
                    Some("distributor.enrolled") => self.enrolled += 1,
                    _ => {}
                }
                delivery.ack().await.unwrap();
            }
        }
    }

    pub fn assert_each_once(&self, enrolled: usize, orders: usize) {
        assert_eq!(self.enrolled, enrolled);
        assert_eq!(self.orders.len(), orders, "{:?}", self.orders);
        assert!(
            self.orders.values().all(|&count| count == 1),
            "{:?}",
            self.orders
        );
    }
}
