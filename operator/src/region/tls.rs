//! TLS to the region's services from its pods: the Secret a Region names for NATS
//! (`spec.nats.tls`) or for ScyllaDB (`spec.store.tls`) mounted read-only, and its files named
//! to `upline` by the environment its flags read.

use crate::crd::{Region, TlsSecret};
use k8s_openapi::api::core::v1::{EnvVar, SecretVolumeSource, Volume, VolumeMount};

/// The keys of a TLS Secret the pods read, as cert-manager names them: the authority, and the
/// pod's certificate and key.
const AUTHORITY_KEY: &str = "ca.crt";
const CLIENT_KEYS: [&str; 2] = ["tls.crt", "tls.key"];

/// One service's TLS: where its Secret is mounted and the variables naming its files.
pub struct ServiceTls {
    /// The Region's field naming the Secret.
    pub field: &'static str,
    volume: &'static str,
    directory: &'static str,
    authority: &'static str,
    certificate: &'static str,
    key: &'static str,
    secret: fn(&Region) -> Option<&TlsSecret>,
}

pub const NATS: ServiceTls = ServiceTls {
    field: "spec.nats.tls.secret",
    volume: "nats-tls",
    directory: "/etc/upline/nats-tls",
    authority: "UPLINE_NATS_CA",
    certificate: "UPLINE_NATS_CERT",
    key: "UPLINE_NATS_KEY",
    secret: |region| region.spec.nats.tls.as_ref(),
};

pub const SCYLLA: ServiceTls = ServiceTls {
    field: "spec.store.tls.secret",
    volume: "scylla-tls",
    directory: "/etc/upline/scylla-tls",
    authority: "UPLINE_SCYLLA_CA",
    certificate: "UPLINE_SCYLLA_CERT",
    key: "UPLINE_SCYLLA_KEY",
    secret: |region| region.spec.store.tls.as_ref(),
};

impl ServiceTls {
    /// The pod's volume of the Secret, when the Region names one (it must exist: a pod without
    /// its certificates would only fail later, less clearly).
    pub fn volume(&self, region: &Region) -> Option<Volume> {
        (self.secret)(region).map(|tls| Volume {
            name: self.volume.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.secret.clone()),
                optional: Some(false),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        })
    }

    /// Where a container reads it.
    pub fn mount(&self, region: &Region) -> Option<VolumeMount> {
        (self.secret)(region).map(|_| VolumeMount {
            name: self.volume.into(),
            mount_path: self.directory.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        })
    }

    /// The Secret the Region names for this service and the keys the pods read from it: the
    /// authority always, the pod's certificate and key where the servers verify clients.
    pub fn secret_keys<'a>(&self, region: &'a Region) -> Option<(&'a str, Vec<&'static str>)> {
        (self.secret)(region).map(|tls| {
            let mut keys = vec![AUTHORITY_KEY];
            if tls.client_certificate {
                keys.extend(CLIENT_KEYS);
            }
            (tls.secret.as_str(), keys)
        })
    }

    /// The files, as `upline` takes them: each key of [`Self::secret_keys`] by the variable
    /// its flag reads.
    pub fn files(&self, region: &Region) -> Vec<EnvVar> {
        let Some((_, keys)) = self.secret_keys(region) else {
            return Vec::new();
        };
        keys.into_iter()
            .zip([self.authority, self.certificate, self.key])
            .map(|(file, variable)| EnvVar {
                name: variable.into(),
                value: Some(format!("{}/{file}", self.directory)),
                ..EnvVar::default()
            })
            .collect()
    }
}
