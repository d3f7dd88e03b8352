//! `upline operator`: the Kubernetes operator of the Region, Tenant and CompensationPlan CRDs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(
    about = "Run the Kubernetes operator: Regions, Tenants and CompensationPlans made real",
    long_about = "Run the Kubernetes operator of the upline.io CRDs (install them first: the Helm chart \
charts/upline, or `kubectl apply -f crds/`). Regions become the region's Deployments, Services, \
autoscalers, disruption budgets, ConfigMap, admin-token Secret, Ingress and ServiceMonitor; \
CompensationPlans are validated by the engine and versioned in ConfigMaps; Tenants are provisioned \
through their home region's admin API, with an API key kept in a Secret.\n\n\
It reaches the Kubernetes API through KUBECONFIG, or in a pod through its service account. Of \
several replicas only the holder of the leader Lease reconciles; the others wait to take over. \
/metrics, /healthz and /readyz answer on --metrics-address. SIGTERM lets running reconciles \
finish and gives the Lease up. Logs go to standard error (UPLINE_LOG, default info)."
)]
pub struct OperatorArgs {
    /// Where /metrics, /healthz and /readyz answer.
    #[arg(
        long,
        value_name = "ADDR",
        env = "UPLINE_OPERATOR_METRICS",
        default_value = "0.0.0.0:9100",
        value_parser = crate::listen_address::parse
    )]
    pub metrics_address: SocketAddr,
    /// The namespace of the leader Lease (the operator's own; the chart passes POD_NAMESPACE).
    #[arg(
        long,
        value_name = "NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = "default"
    )]
    pub lease_namespace: String,
    /// The leader Lease's name; replicas sharing it elect one leader.
    #[arg(long, value_name = "NAME", default_value = "upline-operator")]
    pub lease_name: String,
    /// How long a leader's Lease lasts unrenewed before another replica takes over.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// This replica's identity in the Lease (the chart passes the pod's name). Default: the
    /// host name and process id.
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub identity: Option<String>,
    /// Watch only this namespace instead of the whole cluster.
    #[arg(long, value_name = "NAMESPACE", env = "UPLINE_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Reach region REGION's API at URL instead of its in-cluster Service (an operator running
    /// outside the cluster). Repeatable; comma-separated in the environment.
    #[arg(long = "region-api", value_name = "REGION=URL", env = "UPLINE_REGION_APIS", value_delimiter = ',', value_parser = parse_region_api)]
    pub region_apis: Vec<(String, String)>,
}

fn parse_region_api(text: &str) -> Result<(String, String), String> {
    let (region, url) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: expected REGION=URL, e.g. us-east=http://127.0.0.1:8080")
    })?;
    if region.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{text:?}: expected REGION=URL with an http:// or https:// URL"
        ));
    }
    Ok((region.to_owned(), url.to_owned()))
}

pub fn main(args: OperatorArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Service);
    let identity = args.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_else(|_| "operator".into());
        format!("{}-{}", host.trim(), std::process::id())
    });
    let config = operator::run::OperatorConfig {
        metrics_address: args.metrics_address,
        lease_namespace: args.lease_namespace,
        lease_name: args.lease_name,
        identity,
        lease_duration: Duration::from_secs(args.lease_seconds.max(3)),
        region_apis: args.region_apis.into_iter().collect::<BTreeMap<_, _>>(),
        watch_namespace: args.watch_namespace,
    };
    crate::serve::run_command("operator", async move {
        operator::run::run(config, shutdown_signal())
            .await
            .map_err(|error| error.to_string())
    })
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate.recv() => {},
    }
}
