//! A real etcd + kube-apiserver for the operator's tests (`tests/services/kube.sh`, shared by
//! the whole run; tests isolate themselves by namespace), `kubectl` as a platform engineer runs
//! it, and `upline operator` as a child process.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `kube.sh start` printed: the admin kubeconfig and the kubectl built with the server.
pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub server_name: String,
}

/// The shared cluster of the test run, started (and built, the first time) when needed, with
/// the checked-in CRDs applied and Established. Panics with the script's output when it cannot
/// start: a test that needs Kubernetes never passes without it.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = start_cluster("shared");
        let crds = repo_root().join("crds");
        cluster.kubectl_ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap(),
        ]);
        cluster.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/regions.upline.io",
            "crd/tenants.upline.io",
            "crd/compensationplans.upline.io",
        ]);
        cluster
    })
}

pub fn start_cluster(name: &str) -> Cluster {
    let output = Command::new("bash")
        .arg(repo_root().join("tests/services/kube.sh"))
        .args(["start", name])
        .output()
        .expect("running tests/services/kube.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tests/services/kube.sh start {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("kube.sh printed no {key}: {stdout}"))
            .to_owned()
    };
    Cluster {
        kubeconfig: value("UPLINE_KUBECONFIG=").into(),
        kubectl: value("UPLINE_KUBECTL=").into(),
        server_name: name.to_owned(),
    }
}

impl Cluster {
    /// `kubectl ARGS` as the cluster's admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_as(&self.kubeconfig, args, None)
    }

    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// `kubectl ARGS`, which must succeed; its standard output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kubectl apply -f -` of `manifest` in `namespace`, as a platform engineer would.
    pub fn apply(&self, namespace: &str, manifest: &str) -> Output {
        self.kubectl_as(
            &self.kubeconfig,
            &["apply", "-n", namespace, "-f", "-"],
            Some(manifest),
        )
    }

    pub fn apply_ok(&self, namespace: &str, manifest: &str) {
        let output = self.apply(namespace, manifest);
        assert!(
            output.status.success(),
            "kubectl apply failed: {}{}\n{manifest}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The object as JSON, or None when it does not exist.
    pub fn get(&self, namespace: &str, kind: &str, name: &str) -> Option<Value> {
        let output = self.kubectl(&["get", "-n", namespace, kind, name, "-o", "json"]);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("NotFound"),
                "kubectl get {kind} {name}: {stderr}"
            );
            return None;
        }
        Some(serde_json::from_slice(&output.stdout).unwrap())
    }

    /// Waits until the object exists and `done` holds for it; panics naming `what` after the
    /// patience runs out (a stuck reconcile fails, never hangs).
    pub fn wait_for(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(object) = self.get(namespace, kind, name) {
                if done(&object) {
                    return object;
                }
                last = Some(object);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{kind} {namespace}/{name}: never {what}; last seen: {last:#?}");
    }

    /// Waits until the object is gone.
    pub fn wait_gone(&self, namespace: &str, kind: &str, name: &str) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if self.get(namespace, kind, name).is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{kind} {namespace}/{name} was never deleted");
    }

    /// A fresh namespace named after the test (deletion never completes without a
    /// controller-manager, so namespaces are left behind with unique names).
    pub fn namespace(&self, test: &str) -> String {
        let unique = format!(
            "{test}-{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                & 0xffffff
        );
        self.kubectl_ok(&["create", "namespace", &unique]);
        unique
    }

    /// A kubeconfig for user USER (no groups) signed by the cluster's CA.
    pub fn user_kubeconfig(&self, user: &str) -> PathBuf {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/services/kube.sh"))
            .args(["user", &self.server_name, user])
            .output()
            .expect("running tests/services/kube.sh user");
        assert!(
            output.status.success(),
            "kube.sh user: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    }
}

/// The `True`/`False` status of condition `kind` in an object's status.
pub fn condition(object: &Value, kind: &str) -> Option<(String, String, String)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
        .map(|condition| {
            (
                condition["status"].as_str().unwrap_or_default().to_owned(),
                condition["reason"].as_str().unwrap_or_default().to_owned(),
                condition["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// True when condition `kind` has `status` and was written for the object's current generation.
pub fn condition_is(object: &Value, kind: &str, status: &str) -> bool {
    let generation = &object["metadata"]["generation"];
    object["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions.iter().any(|condition| {
                condition["type"] == kind
                    && condition["status"] == status
                    && &condition["observedGeneration"] == generation
            })
        })
}

/// `upline operator` as a child process, watching one namespace.
pub struct OperatorProcess {
    pub child: Child,
    pub metrics: String,
}

impl OperatorProcess {
    pub fn start(kubeconfig: &Path, namespace: &str, extra: &[String]) -> OperatorProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_upline"))
            .args([
                "operator",
                "--metrics-address",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--lease-namespace",
                namespace,
                "--watch-namespace",
                namespace,
            ])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("UPLINE_LOG", "info")
            .spawn()
            .expect("upline operator starts");
        OperatorProcess {
            child,
            metrics: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The /metrics text, or None while it does not answer.
    pub fn metrics_text(&self) -> Option<String> {
        let response = plain_http::get(&format!("{}/metrics", self.metrics))?;
        Some(response)
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The body of a 200 answer to a plain HTTP GET, or None.
pub fn http_get(url: &str) -> Option<String> {
    plain_http::get(url)
}

/// A port free now, picked at random *below* the kernel's ephemeral range: a port the kernel
/// chose (binding port 0) can be handed to a client socket before the server binds it, as
/// happened to a TLS Cassandra node (tests/services/common.sh picks the same way).
pub fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_low <= 11000 {
        return bound_port(0).expect("a port chosen by the kernel");
    }
    let candidates = u64::from(ephemeral_low - 10000);
    for attempt in 0u32..200 {
        // Each RandomState has keys of its own: a random number without a crate for it.
        let random = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            attempt,
        );
        let port = 10000 + (random % candidates) as u16;
        if let Some(port) = bound_port(port) {
            return port;
        }
    }
    panic!("no free port below the ephemeral range ({ephemeral_low})")
}

fn bound_port(port: u16) -> Option<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).ok()?;
    Some(listener.local_addr().ok()?.port())
}

/// A tiny blocking HTTP GET over a plain TCP socket (the metrics endpoint), so the sync helpers
/// need no runtime.
mod plain_http {
    use std::io::{Read, Write};

    pub fn get(url: &str) -> Option<String> {
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest
            .split_once('/')
            .map(|(host, path)| (host, format!("/{path}")))?;
        let mut stream = std::net::TcpStream::connect(host).ok()?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?;
        (status == "200").then(|| body.to_owned())
    }
}
