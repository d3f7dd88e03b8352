//! Status conditions (`Ready`, `Progressing`, `Degraded`), in the shape every Kubernetes tool
//! reads: `type`, `status`, `reason`, `message`, `lastTransitionTime`, `observedGeneration`.

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Sets condition `kind` in `conditions`. The transition time moves only when the status
/// changes, so `kubectl describe` tells how long an object has been (un)ready.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    kind: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    let status = if status { "True" } else { "False" };
    let message = message.into();
    match conditions
        .iter_mut()
        .find(|condition| condition.type_ == kind)
    {
        Some(condition) => {
            if condition.status != status {
                condition.last_transition_time = Time(Timestamp::now());
                condition.status = status.to_owned();
            }
            condition.reason = reason.to_owned();
            condition.message = message;
            condition.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: kind.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            last_transition_time: Time(Timestamp::now()),
            observed_generation: generation,
        }),
    }
}

/// True when condition `kind` is present with status `True`.
pub fn condition_is(conditions: &[Condition], kind: &str) -> bool {
    conditions
        .iter()
        .any(|condition| condition.type_ == kind && condition.status == "True")
}
