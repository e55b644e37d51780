//! Parameters of an executed plan: named arrays in declaration order, serialised as a JSON
//! object of nested arrays — the same form the generated `*Params` structs use.

use ndarray::{ArrayD, IxDyn};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use jensen_runtime::nested::Nested;

/// Named parameter arrays, in the model's declaration order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DynParams {
    entries: Vec<(String, ArrayD<f64>)>,
}

impl DynParams {
    /// The parameters of a generated model (`GmmParams`, …) as dynamic arrays, through their
    /// common JSON form.
    pub fn from_typed<P: Serialize>(params: &P) -> Result<DynParams, crate::sample::SampleError> {
        let bad = |e: serde_json::Error| crate::sample::SampleError::Param {
            name: "params".into(),
            why: format!("not the JSON form of parameters ({e})"),
        };
        serde_json::from_value(serde_json::to_value(params).map_err(bad)?).map_err(bad)
    }

    /// Adds or replaces a parameter.
    pub fn insert(&mut self, name: &str, value: ArrayD<f64>) {
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A parameter by name, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ArrayD<f64>> {
        self.entries
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// `(name, value)` in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<f64>)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Checks that every parameter of `expected` is present with that shape.
    pub fn check_shapes(&self, expected: &[(String, Vec<usize>)]) -> Result<(), String> {
        for (name, shape) in expected {
            match self.get(name) {
                None => return Err(format!("parameter `{name}` is missing")),
                Some(v) if v.shape() != shape.as_slice() => {
                    return Err(format!(
                        "parameter `{name}` has shape {:?}, expected {:?}",
                        v.shape(),
                        shape
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some((extra, _)) = self
            .entries
            .iter()
            .find(|(n, _)| !expected.iter().any(|(e, _)| e == n))
        {
            return Err(format!("`{extra}` is not a parameter of this model"));
        }
        Ok(())
    }

    /// A zero-dimensional or any-dimensional array from a scalar.
    pub fn scalar(v: f64) -> ArrayD<f64> {
        ArrayD::from_elem(IxDyn(&[]), v)
    }
}

impl Serialize for DynParams {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, &Nested::from_array(value))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DynParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_json keeps object order only with `preserve_order`; order is restored from the
        // model when the parameters are checked, so a sorted map is fine here.
        // A value that is not numbers (a string, an object, `true`…) is named in the error,
        // instead of failing the whole map with serde's untagged-enum message.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Value(Nested),
            Other(serde::de::IgnoredAny),
        }
        let map = std::collections::BTreeMap::<String, Entry>::deserialize(d)?;
        let mut out = DynParams::default();
        for (name, entry) in map {
            let Entry::Value(nested) = entry else {
                return Err(D::Error::custom(format!(
                    "`{name}` is not a parameter value: a number or nested lists of numbers, e.g. `[[1.0, 2.0], [3.0, 4.0]]`"
                )));
            };
            let value = nested
                .to_array()
                .map_err(|e| D::Error::custom(format!("parameter `{name}`: {e}")))?;
            out.insert(&name, value);
        }
        Ok(out)
    }
}
