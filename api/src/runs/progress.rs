//! Progress of the runs computing in this process.

use std::collections::HashMap;
use std::sync::Mutex;

/// What a running run is doing, by (tenant, run).
#[derive(Default)]
pub struct RunProgress {
    stages: Mutex<HashMap<(String, String), String>>,
}

impl RunProgress {
    pub fn set(&self, tenant_id: &str, run_id: &str, stage: impl Into<String>) {
        let mut stages = self.stages.lock().expect("progress lock");
        stages.insert((tenant_id.to_owned(), run_id.to_owned()), stage.into());
    }

    pub fn get(&self, tenant_id: &str, run_id: &str) -> Option<String> {
        let stages = self.stages.lock().expect("progress lock");
        stages
            .get(&(tenant_id.to_owned(), run_id.to_owned()))
            .cloned()
    }

    pub fn clear(&self, tenant_id: &str, run_id: &str) {
        let mut stages = self.stages.lock().expect("progress lock");
        stages.remove(&(tenant_id.to_owned(), run_id.to_owned()));
    }
}
