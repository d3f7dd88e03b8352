//! The tenant API (axum): tenancy, genealogy, orders, commission runs, wallets.
//! Built under the API issue.
