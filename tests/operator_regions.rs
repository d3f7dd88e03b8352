//! The operator on a real kube-apiserver + etcd: a Region applied with kubectl becomes exactly
//! the region's objects, owned by it and reported in its conditions; a spec change reaches them
//! with the new observedGeneration; a hand edit is repaired; the API server itself refuses a
//! Region that breaks a CEL rule.

mod common;

use common::kube::{cluster, condition, condition_is, OperatorProcess};
use serde_json::Value;

fn region_manifest(image: &str, api_max: u32) -> String {
    format!(
        r#"apiVersion: upline.io/v1alpha1
kind: Region
metadata:
  name: eu-west
spec:
  datacenter: dc-eu-west
  nats: {{ urls: ["nats://nats-eu-west:4222"], credentialsSecret: nats-login, tls: {{ secret: nats-eu-west-tls, clientCertificate: true }} }}
  store: {{ scyllaNodes: ["scylla-eu-west-1:9042", "scylla-eu-west-2:9042"], peerDatacenters: {{ us-east: dc-us-east }}, replicationFactor: 2, credentialsSecret: scylla-login, tls: {{ secret: scylla-eu-west-tls }} }}
  inboundFrom: [us-east]
  publicHostname: eu-west.upline.example.com
  cdn: {{ enabled: true, cacheMaxAgeSeconds: 600, staleWhileRevalidateSeconds: 30 }}
  image: {image}
  api: {{ minReplicas: 2, maxReplicas: {api_max}, resources: {{ requests: {{ cpu: 250m, memory: 256Mi }} }} }}
  worker: {{ minReplicas: 1, maxReplicas: 3 }}
"#
    )
}

/// Every object the Region owns, by kind and name.
const OWNED: [(&str, &str); 9] = [
    ("deployment", "eu-west-api"),
    ("deployment", "eu-west-worker"),
    ("service", "eu-west-api"),
    ("hpa", "eu-west-api"),
    ("hpa", "eu-west-worker"),
    ("pdb", "eu-west-api"),
    ("pdb", "eu-west-worker"),
    ("configmap", "eu-west-config"),
    ("ingress", "eu-west-sites"),
];

/// The Secrets `region_manifest` names, with the keys its pods read from each.
const NAMED_SECRETS: [(&str, &[&str]); 4] = [
    ("nats-login", &["username", "password"]),
    ("scylla-login", &["username", "password"]),
    ("nats-eu-west-tls", &["ca.crt", "tls.crt", "tls.key"]),
    ("scylla-eu-west-tls", &["ca.crt"]),
];

/// A Secret holding these keys (their values do not matter here: no pod runs).
fn create_secret(cluster: &common::kube::Cluster, namespace: &str, (name, keys): (&str, &[&str])) {
    let mut arguments = vec![
        "create".to_owned(),
        "secret".into(),
        "generic".into(),
        name.into(),
        "-n".into(),
        namespace.into(),
    ];
    arguments.extend(keys.iter().map(|key| format!("--from-literal={key}=x")));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    cluster.kubectl_ok(&arguments);
}

/// How `kubectl get -o name` names a kind.
fn full_kind(kind: &str) -> &'static str {
    match kind {
        "deployment" => "deployment.apps",
        "service" => "service",
        "hpa" => "horizontalpodautoscaler.autoscaling",
        "pdb" => "poddisruptionbudget.policy",
        "configmap" => "configmap",
        "ingress" => "ingress.networking.k8s.io",
        other => panic!("no kind {other}"),
    }
}

fn controlled_by(object: &Value, region: &Value) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|owners| {
            owners.len() == 1
                && owners[0]["kind"] == "Region"
                && owners[0]["apiVersion"] == "upline.io/v1alpha1"
                && owners[0]["uid"] == region["metadata"]["uid"]
                && owners[0]["controller"] == true
        })
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn a_region_becomes_its_deployments_services_autoscalers_budgets_config_and_ingress() {
    let cluster = cluster();
    let namespace = cluster.namespace("op-region");
    let _operator = OperatorProcess::start(&cluster.kubeconfig, &namespace, &[]);
    for secret in NAMED_SECRETS {
        create_secret(cluster, &namespace, secret);
    }
    cluster.apply_ok(
        &namespace,
        &region_manifest("registry.example.com/upline:0.1.0", 6),
    );

    // Not Ready while no deployment is available (no kubelet runs here), but every object is there.
    let region = cluster.wait_for(
        &namespace,
        "region",
        "eu-west",
        "reported on generation 1",
        |region| {
            condition_is(region, "Ready", "False") && condition_is(region, "Degraded", "False")
        },
    );
    assert_eq!(
        condition(&region, "Ready").unwrap().1,
        "DeploymentsUnavailable"
    );
    assert_eq!(region["status"]["observedGeneration"], 1);
    assert_eq!(
        region["status"]["apiEndpoint"],
        format!("http://eu-west-api.{namespace}.svc:80")
    );
    for (kind, name) in OWNED {
        let object = cluster
            .get(&namespace, kind, name)
            .unwrap_or_else(|| panic!("no {kind} {name}"));
        assert!(
            controlled_by(&object, &region),
            "{kind} {name} is not controlled by the Region: {:#}",
            object["metadata"]
        );
        assert_eq!(
            object["metadata"]["labels"]["upline.io/region"], "eu-west",
            "{kind} {name}"
        );
    }
    // Exactly these objects: nothing else was made in the namespace.
    let made = cluster.kubectl_ok(&[
        "get",
        "-n",
        &namespace,
        "deploy,svc,hpa,pdb,cm,ingress,secret",
        "-o",
        "name",
    ]);
    let mut made: Vec<&str> = made.lines().collect();
    made.sort();
    let mut expected: Vec<String> = OWNED
        .iter()
        .map(|(kind, name)| format!("{}/{name}", full_kind(kind)))
        .chain(["secret/eu-west-admin-token".to_owned()])
        .chain(
            NAMED_SECRETS
                .iter()
                .map(|(name, _)| format!("secret/{name}")),
        )
        .collect();
    expected.sort();
    assert_eq!(made, expected);
    let secret = cluster
        .get(&namespace, "secret", "eu-west-admin-token")
        .expect("the admin token Secret");
    assert!(controlled_by(&secret, &region));
    assert_eq!(
        secret["data"]["admin-token"].as_str().map(str::len),
        Some(88),
        "64 hex digits, base64"
    );

    // What the objects say comes from the spec.
    let config = cluster
        .get(&namespace, "configmap", "eu-west-config")
        .unwrap();
    assert_eq!(config["data"]["UPLINE_REGION"], "eu-west");
    assert_eq!(
        config["data"]["UPLINE_DATACENTERS"],
        "eu-west=dc-eu-west,us-east=dc-us-east"
    );
    assert_eq!(config["data"]["UPLINE_REPLICATION_FACTOR"], "2");
    assert_eq!(
        config["data"]["UPLINE_SCYLLA_NODES"],
        "scylla-eu-west-1:9042,scylla-eu-west-2:9042"
    );
    assert_eq!(config["data"]["UPLINE_NATS"], "nats://nats-eu-west:4222");
    assert_eq!(config["data"]["UPLINE_INBOUND_FROM"], "us-east");
    let api = cluster
        .get(&namespace, "deployment", "eu-west-api")
        .unwrap();
    assert_eq!(
        container(&api)["image"],
        "registry.example.com/upline:0.1.0"
    );
    assert_eq!(
        container(&api)["args"],
        serde_json::json!(["serve", "--no-closes"])
    );
    assert_eq!(container(&api)["resources"]["requests"]["cpu"], "250m");
    // The admin token and the logins to ScyllaDB and NATS come from Secrets, never the
    // ConfigMap.
    let from_secrets = |container: &Value| -> Vec<(String, String, String)> {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|variable| variable.get("valueFrom").is_some())
            .map(|variable| {
                let reference = &variable["valueFrom"]["secretKeyRef"];
                (
                    variable["name"].as_str().unwrap().to_owned(),
                    reference["name"].as_str().unwrap().to_owned(),
                    reference["key"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let logins = [
        ("UPLINE_SCYLLA_USERNAME", "scylla-login", "username"),
        ("UPLINE_SCYLLA_PASSWORD", "scylla-login", "password"),
        ("UPLINE_NATS_USER", "nats-login", "username"),
        ("UPLINE_NATS_PASSWORD", "nats-login", "password"),
    ]
    .map(|(variable, secret, key)| (variable.to_owned(), secret.to_owned(), key.to_owned()));
    let mut expected = vec![(
        "UPLINE_ADMIN_TOKEN".to_owned(),
        "eu-west-admin-token".to_owned(),
        "admin-token".to_owned(),
    )];
    expected.extend(logins.iter().cloned());
    assert_eq!(from_secrets(container(&api)), expected);
    assert_eq!(
        from_secrets(&api["spec"]["template"]["spec"]["initContainers"][0]),
        logins.to_vec()
    );
    // TLS: the Secrets of spec.store.tls and spec.nats.tls mounted read-only, their files named
    // to the process (the pods' own certificate only where clientCertificate asks for it); the
    // schema migration talks to ScyllaDB alone and gets its Secret alone.
    let plain_env = |container: &Value| -> Value {
        serde_json::json!(container["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|variable| variable.get("value").is_some())
            .collect::<Vec<_>>())
    };
    let mount = |name: &str| serde_json::json!({ "name": format!("{name}-tls"), "mountPath": format!("/etc/upline/{name}-tls"), "readOnly": true });
    for deployment in [
        &api,
        &cluster
            .get(&namespace, "deployment", "eu-west-worker")
            .unwrap(),
    ] {
        assert_eq!(
            plain_env(container(deployment)),
            serde_json::json!([
                { "name": "UPLINE_SCYLLA_CA", "value": "/etc/upline/scylla-tls/ca.crt" },
                { "name": "UPLINE_NATS_CA", "value": "/etc/upline/nats-tls/ca.crt" },
                { "name": "UPLINE_NATS_CERT", "value": "/etc/upline/nats-tls/tls.crt" },
                { "name": "UPLINE_NATS_KEY", "value": "/etc/upline/nats-tls/tls.key" },
            ])
        );
        assert_eq!(
            container(deployment)["volumeMounts"],
            serde_json::json!([mount("scylla"), mount("nats")])
        );
        let pod = &deployment["spec"]["template"]["spec"];
        let volumes: Vec<(&str, &str, bool)> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|volume| {
                (
                    volume["name"].as_str().unwrap(),
                    volume["secret"]["secretName"].as_str().unwrap(),
                    volume["secret"]["optional"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            volumes,
            [
                ("scylla-tls", "scylla-eu-west-tls", false),
                ("nats-tls", "nats-eu-west-tls", false)
            ]
        );
        let migrate = &pod["initContainers"][0];
        assert_eq!(
            plain_env(migrate),
            serde_json::json!([{ "name": "UPLINE_SCYLLA_CA", "value": "/etc/upline/scylla-tls/ca.crt" }])
        );
        assert_eq!(
            migrate["volumeMounts"],
            serde_json::json!([mount("scylla")])
        );
    }
    // Each pod migrates the schema before it serves, with the same configuration.
    for deployment in [
        &api,
        &cluster
            .get(&namespace, "deployment", "eu-west-worker")
            .unwrap(),
    ] {
        let migrate = &deployment["spec"]["template"]["spec"]["initContainers"][0];
        assert_eq!(migrate["args"], serde_json::json!(["migrate"]));
        assert_eq!(migrate["image"], "registry.example.com/upline:0.1.0");
        assert_eq!(
            migrate["envFrom"][0]["configMapRef"]["name"],
            "eu-west-config"
        );
    }
    assert!(
        api["spec"]["replicas"] == 1,
        "the autoscaler owns replicas; the default is left alone"
    );
    let worker = cluster
        .get(&namespace, "deployment", "eu-west-worker")
        .unwrap();
    assert_eq!(
        container(&worker)["args"],
        serde_json::json!(["worker", "--closes"])
    );
    let autoscaler = cluster.get(&namespace, "hpa", "eu-west-api").unwrap();
    assert_eq!(autoscaler["spec"]["minReplicas"], 2);
    assert_eq!(autoscaler["spec"]["maxReplicas"], 6);
    assert_eq!(
        autoscaler["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    let ingress = cluster.get(&namespace, "ingress", "eu-west-sites").unwrap();
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "eu-west.upline.example.com"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["upline.io/cache-control"],
        "public, max-age=600, stale-while-revalidate=30"
    );
    // A bare API server has no Prometheus Operator: no ServiceMonitor is attempted.
    assert_eq!(region["status"]["conditions"].as_array().unwrap().len(), 3);

    // The deployments become available (a kubelet would say so): the Region is Ready.
    for name in ["eu-west-api", "eu-west-worker"] {
        let deployment = cluster.get(&namespace, "deployment", name).unwrap();
        let status = serde_json::json!({ "status": {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": 1, "availableReplicas": 1, "readyReplicas": 1, "updatedReplicas": 1 } });
        cluster.kubectl_ok(&[
            "patch",
            "-n",
            &namespace,
            "deployment",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ]);
    }
    cluster.wait_for(&namespace, "region", "eu-west", "Ready", |region| {
        condition_is(region, "Ready", "True")
    });

    // A spec change reaches the objects, and the status tells the generation it reflects.
    cluster.apply_ok(
        &namespace,
        &region_manifest("registry.example.com/upline:0.2.0", 9),
    );
    let region = cluster.wait_for(
        &namespace,
        "region",
        "eu-west",
        "reconciled generation 2",
        |region| {
            region["status"]["observedGeneration"] == 2 && condition_is(region, "Degraded", "False")
        },
    );
    assert_eq!(region["status"]["apiReplicas"], "2-9");
    let api = cluster
        .get(&namespace, "deployment", "eu-west-api")
        .unwrap();
    assert_eq!(
        container(&api)["image"],
        "registry.example.com/upline:0.2.0"
    );
    assert_eq!(
        cluster.get(&namespace, "hpa", "eu-west-api").unwrap()["spec"]["maxReplicas"],
        9
    );
    // The new image is not available yet: Ready again only once the rollout is.
    assert!(
        condition_is(&region, "Ready", "False"),
        "{:#}",
        region["status"]
    );
    assert!(
        condition_is(&region, "Progressing", "True"),
        "{:#}",
        region["status"]
    );

    // Someone edits an owned object by hand: the operator sets it back.
    cluster.kubectl_ok(&[
        "patch",
        "-n",
        &namespace,
        "hpa",
        "eu-west-api",
        "--type=merge",
        "-p",
        r#"{"spec":{"maxReplicas":50}}"#,
    ]);
    cluster.kubectl_ok(&[
        "patch",
        "-n",
        &namespace,
        "configmap",
        "eu-west-config",
        "--type=merge",
        "-p",
        r#"{"data":{"UPLINE_REGION":"elsewhere"}}"#,
    ]);
    cluster.wait_for(&namespace, "hpa", "eu-west-api", "repaired", |hpa| {
        hpa["spec"]["maxReplicas"] == 9
    });
    cluster.wait_for(
        &namespace,
        "configmap",
        "eu-west-config",
        "repaired",
        |config| config["data"]["UPLINE_REGION"] == "eu-west",
    );

    let events = cluster.kubectl_ok(&["get", "events", "-n", &namespace, "-o", "json"]);
    let events: Value = serde_json::from_str(&events).unwrap();
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"AdminTokenCreated") && reasons.contains(&"Applied"),
        "{reasons:?}"
    );
}

#[test]
fn a_region_naming_a_missing_secret_says_which_until_it_is_there() {
    let cluster = cluster();
    let namespace = cluster.namespace("op-secrets");
    let _operator = OperatorProcess::start(&cluster.kubeconfig, &namespace, &[]);
    let [nats_login, scylla_login, nats_tls, scylla_tls] = NAMED_SECRETS;
    create_secret(cluster, &namespace, nats_login);
    create_secret(cluster, &namespace, scylla_login);
    // cert-manager's Secret without the client certificate the Region asks for.
    create_secret(cluster, &namespace, (nats_tls.0, &["ca.crt"]));
    cluster.apply_ok(
        &namespace,
        &region_manifest("registry.example.com/upline:0.1.0", 6),
    );

    let region = cluster.wait_for(
        &namespace,
        "region",
        "eu-west",
        "reported the missing Secrets",
        |region| {
            condition(region, "Ready").is_some_and(|(_, reason, _)| reason == "SecretsMissing")
        },
    );
    let (status, _, message) = condition(&region, "Ready").unwrap();
    assert_eq!(status, "False");
    assert_eq!(
        message,
        "the pods cannot start: Secret scylla-eu-west-tls (spec.store.tls.secret) does not exist; \
         Secret nats-eu-west-tls (spec.nats.tls.secret) has no tls.crt, tls.key"
    );
    // The objects are applied all the same: the pods start once the Secrets are there.
    assert!(
        condition_is(&region, "Degraded", "False"),
        "{:#}",
        region["status"]
    );
    assert!(cluster
        .get(&namespace, "deployment", "eu-west-api")
        .is_some());

    cluster.kubectl_ok(&["delete", "secret", "-n", &namespace, nats_tls.0]);
    create_secret(cluster, &namespace, nats_tls);
    create_secret(cluster, &namespace, scylla_tls);
    let region = cluster.wait_for(
        &namespace,
        "region",
        "eu-west",
        "stopped reporting missing Secrets",
        |region| {
            condition(region, "Ready").is_some_and(|(_, reason, _)| reason != "SecretsMissing")
        },
    );
    assert_eq!(
        condition(&region, "Ready").unwrap().1,
        "DeploymentsUnavailable"
    );

    let events = cluster.kubectl_ok(&["get", "events", "-n", &namespace, "-o", "json"]);
    let events: Value = serde_json::from_str(&events).unwrap();
    let warnings: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["reason"] == "SecretsMissing")
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning while nothing changed: {warnings:#?}"
    );
    assert_eq!(warnings[0]["type"], "Warning");
}

#[test]
fn the_api_server_refuses_regions_that_break_its_rules_with_the_rules_message() {
    let cluster = cluster();
    let namespace = cluster.namespace("op-region-cel");
    let cases = [
        (
            region_manifest("img:1", 6).replace("maxReplicas: 6", "maxReplicas: 1"),
            "minReplicas must not exceed maxReplicas",
        ),
        (
            region_manifest("img:1", 6).replace("inboundFrom: [us-east]", "inboundFrom: [eu-west]"),
            "spec.inboundFrom names other regions",
        ),
        (
            region_manifest("img:1", 6).replace("us-east: dc-us-east", "eu-west: dc-eu-west"),
            "spec.store.peerDatacenters names the other regions",
        ),
        (
            region_manifest("img:1", 6).replace("inboundFrom: [us-east]", "inboundFrom: [us-east, ap-south]"),
            "spec.inboundFrom: each region named needs its datacenter in spec.store.peerDatacenters",
        ),
        (
            region_manifest("img:1", 6).replace("nats://nats-eu-west", "http://nats-eu-west"),
            "NATS URLs start with nats:// or tls://",
        ),
        (
            region_manifest("img:1", 6).replace("name: eu-west\n", "name: EU_West\n"),
            "a Region's name is the region's name",
        ),
    ];
    for (manifest, message) in cases {
        let output = cluster.apply(&namespace, &manifest);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "accepted: {manifest}");
        assert!(
            stderr.contains(message),
            "expected {message:?} in: {stderr}"
        );
    }
    assert!(
        cluster.get(&namespace, "region", "eu-west").is_none(),
        "nothing was stored"
    );
}

#[test]
fn where_prometheus_operator_is_installed_a_region_also_gets_its_service_monitor() {
    // A cluster of its own: the ServiceMonitor CRD changes what every Region gets.
    let cluster = common::kube::start_cluster("op-monitoring");
    let root = env!("CARGO_MANIFEST_DIR");
    cluster.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &format!("{root}/crds"),
    ]);
    cluster.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &format!("{root}/tests/fixtures/monitoring-crds.yaml"),
    ]);
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/regions.upline.io",
        "crd/servicemonitors.monitoring.coreos.com",
    ]);
    let namespace = cluster.namespace("op-monitored");
    let operator = OperatorProcess::start(&cluster.kubeconfig, &namespace, &[]);
    cluster.apply_ok(&namespace, &region_manifest("img:1", 4));
    let monitor = cluster.wait_for(&namespace, "servicemonitor", "eu-west-api", "made", |_| {
        true
    });
    let region = cluster.get(&namespace, "region", "eu-west").unwrap();
    assert!(
        controlled_by(&monitor, &region),
        "{:#}",
        monitor["metadata"]
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
        "api"
    );
    // The Service it selects carries those labels and that port.
    let service = cluster.get(&namespace, "service", "eu-west-api").unwrap();
    for (label, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&service["metadata"]["labels"][label], value, "{label}");
    }
    assert_eq!(service["spec"]["ports"][0]["name"], "http");
    // The operator answers its probes while it works.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            common::kube::http_get(&format!("{}{path}", operator.metrics))
                .as_deref()
                .map(str::trim),
            Some(if path == "/healthz" { "ok" } else { "ready" })
        );
    }
}
