//! NATS consumers: order and enrollment events, period close, payouts, cross-region relay.
//! Built under the events issue.
