use uuid::Uuid;

use crate::plan::Time;
use crate::value::Value;

/// A UUID v5 in `namespace` of the operator name, the key values and a time, as a string value.
/// A replay of the same input gives the same ids, whatever the number of workers.
pub(crate) fn stable_id(namespace: &Uuid, name: &str, key: &[Value], time: Time) -> Value {
    let mut text = name.to_owned();
    for value in key {
        text.push('\u{1f}');
        text.push_str(&value.to_string());
    }
    text.push('\u{1f}');
    text.push_str(&time.to_string());
    Value::str(&Uuid::new_v5(namespace, text.as_bytes()).to_string())
}
