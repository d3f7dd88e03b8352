//! Storage traits and backends (embedded, ScyllaDB) with one conformance suite.
//! Built under the API and ScyllaDB issues; the engine's pure types are what it stores.
