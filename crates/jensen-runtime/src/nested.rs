//! Serde for ndarray arrays as nested JSON arrays (`[[1, 2], [3, 4]]`), the form parameters
//! take in fit results and user-supplied starting points. Use with
//! `#[serde(with = "jensen_runtime::nested")]`.

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A nested-array value: a number or a list of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Nested {
    /// A scalar.
    Num(f64),
    /// One level of nesting.
    List(Vec<Nested>),
}

impl Nested {
    /// Builds the nested form of an array of any dimension.
    pub fn from_array<S: Data<Elem = f64>, D: Dimension>(a: &ArrayBase<S, D>) -> Nested {
        fn go(a: ndarray::ArrayViewD<'_, f64>) -> Nested {
            if a.ndim() == 0 {
                Nested::Num(*a.first().expect("0-d array has one element"))
            } else {
                Nested::List(a.outer_iter().map(go).collect())
            }
        }
        go(a.view().into_dyn())
    }

    /// The shape and the row-major values; errors on ragged lists.
    pub fn to_array(&self) -> Result<ArrayD<f64>, String> {
        fn shape(v: &Nested, out: &mut Vec<usize>) {
            if let Nested::List(items) = v {
                out.push(items.len());
                if let Some(first) = items.first() {
                    shape(first, out);
                }
            }
        }
        fn flatten(
            v: &Nested,
            depth: usize,
            shape: &[usize],
            out: &mut Vec<f64>,
        ) -> Result<(), String> {
            match v {
                Nested::Num(x) if depth == shape.len() => {
                    out.push(*x);
                    Ok(())
                }
                Nested::List(items) if depth < shape.len() && items.len() == shape[depth] => items
                    .iter()
                    .try_for_each(|i| flatten(i, depth + 1, shape, out)),
                _ => Err(format!("ragged nested array: expected shape {shape:?}")),
            }
        }
        let mut dims = Vec::new();
        shape(self, &mut dims);
        let mut values = Vec::new();
        flatten(self, 0, &dims, &mut values)?;
        ArrayD::from_shape_vec(IxDyn(&dims), values).map_err(|e| e.to_string())
    }
}

/// Serialises an array as nested lists.
pub fn serialize<S: Serializer, T: Data<Elem = f64>, D: Dimension>(
    a: &ArrayBase<T, D>,
    s: S,
) -> Result<S::Ok, S::Error> {
    Nested::from_array(a).serialize(s)
}

/// Deserialises nested lists into an array of the expected dimension.
pub fn deserialize<'de, De: Deserializer<'de>, D: Dimension>(
    d: De,
) -> Result<ndarray::Array<f64, D>, De::Error> {
    let nested = Nested::deserialize(d)?;
    let a = nested.to_array().map_err(De::Error::custom)?;
    a.into_dimensionality::<D>()
        .map_err(|_| De::Error::custom("nested array has the wrong number of dimensions"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct P {
        #[serde(with = "super")]
        m: Array2<f64>,
    }

    #[test]
    fn round_trips_and_rejects_ragged() {
        let p = P {
            m: array![[1.0, 2.0], [3.0, 4.5]],
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"m":[[1.0,2.0],[3.0,4.5]]}"#);
        assert_eq!(serde_json::from_str::<P>(&json).unwrap(), p);
        assert!(serde_json::from_str::<P>(r#"{"m":[[1.0],[3.0,4.5]]}"#).is_err());
        assert!(serde_json::from_str::<P>(r#"{"m":[1.0, 2.0]}"#).is_err());
    }
}
