//! The operator's process on a real kube-apiserver: two replicas elect one leader through a
//! Lease and the other takes over when the leader dies; a stopped leader gives the Lease up;
//! and the operator does its work as the Helm chart's ServiceAccount — with a token, and with a
//! client certificate of that identity — whose RBAC allows it exactly that.

mod common;

use common::kube::{cluster, condition_is, Cluster, OperatorProcess};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn region(name: &str, max: u32) -> String {
    format!(
        r#"apiVersion: upline.io/v1alpha1
kind: Region
metadata:
  name: {name}
spec:
  datacenter: dc-{name}
  nats: {{ urls: ["nats://nats-{name}:4222"] }}
  store: {{ scyllaNodes: ["scylla-{name}-1:9042"] }}
  publicHostname: {name}.upline.example.com
  image: registry.example.com/upline:0.1.0
  api: {{ minReplicas: 1, maxReplicas: {max} }}
  worker: {{ minReplicas: 1, maxReplicas: 1 }}
"#
    )
}

/// The value of `upline_operator_leader` on the replica's /metrics (None while unreachable).
fn leader_gauge(operator: &OperatorProcess) -> Option<u8> {
    let text = operator.metrics_text()?;
    text.lines()
        .find_map(|line| line.strip_prefix("upline_operator_leader "))
        .and_then(|value| value.trim().parse().ok())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("never {what}");
}

fn lease_holder(cluster: &Cluster, namespace: &str) -> Option<String> {
    let lease = cluster.get(namespace, "lease", "upline-operator")?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
}

#[test]
fn two_replicas_elect_one_leader_and_the_other_takes_over() {
    let cluster = cluster();
    let namespace = cluster.namespace("op-leader");
    let replica = |identity: &str| {
        OperatorProcess::start(
            &cluster.kubeconfig,
            &namespace,
            &[
                "--identity".into(),
                identity.into(),
                "--lease-seconds".into(),
                "3".into(),
            ],
        )
    };
    let first = replica("replica-a");
    let second = replica("replica-b");
    wait_until("one leader", || {
        matches!(
            (leader_gauge(&first), leader_gauge(&second)),
            (Some(1), Some(0)) | (Some(0), Some(1))
        )
    });
    let (leader, follower) = if leader_gauge(&first) == Some(1) {
        (first, second)
    } else {
        (second, first)
    };
    let leader_name = lease_holder(cluster, &namespace).expect("a Lease holder");
    // Both stay as they are: never two leaders.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            (leader_gauge(&leader), leader_gauge(&follower)),
            (Some(1), Some(0))
        );
    }
    cluster.apply_ok(&namespace, &region("sa-east", 2));
    cluster.wait_for(&namespace, "region", "sa-east", "reconciled", |region| {
        condition_is(region, "Degraded", "False")
    });

    // The leader dies without a word: the follower takes the Lease once it lapses, and works.
    let mut leader = leader;
    leader.child.kill().unwrap();
    leader.child.wait().unwrap();
    wait_until("the follower leading", || {
        leader_gauge(&follower) == Some(1)
    });
    let new_leader = lease_holder(cluster, &namespace).unwrap();
    assert_ne!(new_leader, leader_name);
    cluster.apply_ok(&namespace, &region("sa-east", 4));
    cluster.wait_for(
        &namespace,
        "hpa",
        "sa-east-api",
        "updated by the new leader",
        |hpa| hpa["spec"]["maxReplicas"] == 4,
    );

    // A graceful stop gives the Lease up at once.
    let status = follower.stop();
    assert!(
        status.success(),
        "SIGTERM ends the operator cleanly: {status}"
    );
    assert_eq!(
        lease_holder(cluster, &namespace),
        None,
        "the Lease was given up"
    );
}

fn helm() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services/kube-build.sh");
    let built = Command::new("bash")
        .arg(&script)
        .arg("helm")
        .status()
        .expect("kube-build.sh runs");
    assert!(built.success(), "helm could not be built");
    let path = Command::new("bash")
        .arg(&script)
        .args(["path", "helm"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(path.stdout).unwrap().trim())
}

/// A kubeconfig that authenticates with a token of `service_account`, on the cluster's server
/// and CA.
fn service_account_kubeconfig(
    cluster: &Cluster,
    namespace: &str,
    service_account: &str,
    into: &Path,
) -> PathBuf {
    let token = cluster.kubectl_ok(&[
        "create",
        "token",
        service_account,
        "-n",
        namespace,
        "--duration=1h",
    ]);
    let server = cluster.kubectl_ok(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = cluster.kubectl_ok(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let path = into.join("operator.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: operator\n  user:\n    token: {}\ncontexts:\n- name: test\n  context: {{cluster: test, user: operator}}\ncurrent-context: test\n",
            token.trim()
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_operator_works_as_the_charts_service_account_and_may_do_nothing_more() {
    let cluster = cluster();
    // Short: the service account's user name (system:serviceaccount:<ns>:<ns>-upline-operator)
    // is also a certificate's common name below, which X.509 limits to 64 characters.
    let namespace = cluster.namespace("rbac");
    let rendered = Command::new(helm())
        .args([
            "template",
            &namespace,
            "charts/upline",
            "--namespace",
            &namespace,
        ])
        .args([
            "--show-only",
            "templates/rbac.yaml",
            "--show-only",
            "templates/serviceaccount.yaml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    cluster.apply_ok(&namespace, &String::from_utf8(rendered.stdout).unwrap());
    let service_account = format!("{namespace}-upline-operator");
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig =
        service_account_kubeconfig(cluster, &namespace, &service_account, scratch.path());

    let operator = OperatorProcess::start(&kubeconfig, &namespace, &[]);
    cluster.apply_ok(&namespace, &region("af-south", 3));
    let reconciled = cluster.wait_for(
        &namespace,
        "region",
        "af-south",
        "reconciled as the service account",
        |region| condition_is(region, "Degraded", "False"),
    );
    assert_eq!(reconciled["status"]["observedGeneration"], 1);
    for (kind, name) in [
        ("deployment", "af-south-api"),
        ("hpa", "af-south-worker"),
        ("secret", "af-south-admin-token"),
        ("ingress", "af-south-sites"),
    ] {
        assert!(
            cluster.get(&namespace, kind, name).is_some(),
            "{kind} {name} made as the service account"
        );
    }
    let plan = r#"{"apiVersion":"upline.io/v1alpha1","kind":"CompensationPlan","metadata":{"name":"basic"},"spec":{"name":"basic","currency":"EUR","ranks":[{"name":"Member"}],"bonuses":{"unilevel":{"levels":[0.1]}}}}"#;
    cluster.apply_ok(&namespace, plan);
    cluster.wait_for(
        &namespace,
        "compensationplan",
        "basic",
        "versioned as the service account",
        |plan| plan["status"]["currentVersion"] == 1,
    );
    assert!(cluster.get(&namespace, "configmap", "basic-v1").is_some());
    assert_eq!(leader_gauge(&operator), Some(1));
    operator.stop();

    // The same identity as a client certificate signed by the cluster's CA (CN = the service
    // account's user name): the chart's bindings are what let it work.
    let certificate = cluster.user_kubeconfig(&format!(
        "system:serviceaccount:{namespace}:{service_account}"
    ));
    let operator = OperatorProcess::start(&certificate, &namespace, &[]);
    cluster.apply_ok(&namespace, &region("af-north", 2));
    cluster.wait_for(
        &namespace,
        "region",
        "af-north",
        "reconciled with the client certificate",
        |region| condition_is(region, "Degraded", "False"),
    );
    assert!(cluster
        .get(&namespace, "deployment", "af-north-worker")
        .is_some());
    assert_eq!(leader_gauge(&operator), Some(1));

    // Least privilege: what the operator never needs, it may not do (and the question is
    // asked as the service account: what it needs, it may).
    let who = format!("--as=system:serviceaccount:{namespace}:{service_account}");
    let can = |question: &[&str]| {
        let mut args = vec!["auth", "can-i"];
        args.extend(question.iter().copied());
        args.push(&who);
        String::from_utf8_lossy(&cluster.kubectl(&args).stdout)
            .trim()
            .to_owned()
    };
    assert_eq!(can(&["patch", "deployments", "-n", &namespace]), "yes");
    assert_eq!(
        can(&[
            "get",
            "customresourcedefinitions.apiextensions.k8s.io/servicemonitors.monitoring.coreos.com"
        ]),
        "yes"
    );
    for denied in [
        vec!["delete", "deployments", "-n", &namespace],
        vec!["list", "pods", "-n", &namespace],
        vec!["create", "clusterroles"],
        vec!["get", "nodes"],
        vec!["delete", "secrets", "-n", &namespace],
        vec!["update", "leases", "-n", "kube-system"],
        vec!["delete", "regions.upline.io", "-n", &namespace],
        vec![
            "get",
            "customresourcedefinitions.apiextensions.k8s.io/regions.upline.io",
        ],
    ] {
        assert_eq!(can(&denied), "no", "the chart lets the operator {denied:?}");
    }
}
