//! Generic edits of the OpenAPI document as JSON: finding schemas, properties and parameters,
//! adding keywords to them, and making request bodies' optional fields nullable.

use serde_json::{Map, Value, json};

pub(super) fn schema<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    let schema = &mut doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name} in the document");
    schema
}

/// Adds `rules` to the property `property` of the schema `name`.
pub(super) fn constrain(doc: &mut Value, name: &str, property: &str, rules: Value) {
    let target = &mut schema(doc, name)["properties"][property];
    assert!(target.is_object(), "no property {name}.{property}");
    merge(target, rules);
}

pub(super) fn merge(target: &mut Value, rules: Value) {
    let (Value::Object(target), Value::Object(rules)) = (target, rules) else {
        unreachable!("rules and their targets are objects");
    };
    target.extend(rules);
}

/// Every request body's optional field accepts `null` as absent (poem reads both as `None`).
pub(super) fn nullable_optional_fields(doc: &mut Value) {
    let mut bodies = Vec::new();
    for operation in operations(doc) {
        let content = &operation["requestBody"]["content"];
        for media in content.as_object().into_iter().flat_map(Map::values) {
            collect_refs(&media["schema"], doc, &mut bodies);
        }
    }
    let mut hoisted = Vec::new();
    for name in bodies {
        let schema = schema(doc, &name);
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(properties) = schema["properties"].as_object_mut() else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            if required.contains(field) {
                continue;
            }
            if property["type"] == "object" {
                // An inline object becomes a named schema (the name generators gave it), so
                // making it nullable does not rename the SDKs' type.
                let named = format!("{name}{}", pascal_case(field));
                hoisted.push((named.clone(), property.take()));
                *property = json!({ "$ref": format!("#/components/schemas/{named}") });
            }
            if let Some(reference) = property.get("$ref").cloned() {
                // A `$ref` takes no siblings in OpenAPI 3.0.
                *property = json!({ "allOf": [{ "$ref": reference }], "nullable": true });
            } else {
                property["nullable"] = Value::Bool(true);
            }
        }
    }
    for (name, schema) in hoisted {
        doc["components"]["schemas"][name] = schema;
    }
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// An optional request body may also be `null` (poem reads it as absent).
pub(super) fn nullable_optional_bodies(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|p| p.values_mut())
    {
        let body = &mut operation["requestBody"];
        if body.is_null() || body["required"] == true {
            continue;
        }
        for media in body["content"]
            .as_object_mut()
            .into_iter()
            .flat_map(|c| c.values_mut())
        {
            let schema = media["schema"].take();
            media["schema"] = json!({ "allOf": [schema], "nullable": true });
        }
    }
}

fn operations(doc: &Value) -> Vec<Value> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(Map::values)
        .flat_map(|path| path.as_object().into_iter().flat_map(Map::values))
        .cloned()
        .collect()
}

/// The object schemas `schema` refers to, transitively (not enums: they have no fields).
fn collect_refs(schema: &Value, doc: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                let target = &doc["components"]["schemas"][name];
                if target["type"] == "object" && !found.iter().any(|known| known == name) {
                    found.push(name.to_owned());
                    collect_refs(target, doc, found);
                }
            }
            for value in map.values() {
                collect_refs(value, doc, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, doc, found)),
        _ => {}
    }
}

pub(super) fn parameter<'a>(
    doc: &'a mut Value,
    path: &str,
    method: &str,
    name: &str,
) -> &'a mut Value {
    let parameters = doc["paths"][path][method]["parameters"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"));
    let found = parameters
        .iter_mut()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"));
    &mut found["schema"]
}
