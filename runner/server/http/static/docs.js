// Renders /openapi.json as a browsable page: operations by tag, their body fields and responses. No network
// beyond this server, no libraries.
"use strict";

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    return schema.$ref.split("/").slice(1).reduce((node, part) => node[part], spec);
  }
  return schema || {};
}

function typeText(schema) {
  if (schema.enum) return `one of ${schema.enum.join(", ")}`;
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
  if (type === "array" && schema.items) return `array of ${typeText(schema.items)}`;
  const limits = [];
  if (schema.minimum !== undefined) limits.push(`>= ${schema.minimum}`);
  if (schema.maximum !== undefined) limits.push(`<= ${schema.maximum}`);
  if (schema.maxItems !== undefined) limits.push(`at most ${schema.maxItems} items`);
  return limits.length ? `${type} (${limits.join(", ")})` : type;
}

function fieldsTable(spec, schema) {
  schema = resolve(spec, schema);
  const properties = schema.properties || {};
  if (!Object.keys(properties).length) return element("p", {}, typeText(schema));
  const required = new Set(schema.required || []);
  const table = element("table", {}, element("tr", {}, element("th", {}, "field"), element("th", {}, "type"),
    element("th", {}, "default"), element("th", {}, "description")));
  for (const [name, property] of Object.entries(properties)) {
    const field = resolve(spec, property);
    table.append(element("tr", {},
      element("td", {}, element("code", {}, name), required.has(name) ? " *" : ""),
      element("td", {}, typeText(field)),
      element("td", {}, field.default === undefined ? "" : JSON.stringify(field.default)),
      element("td", {}, field.description || "")));
  }
  return table;
}

function renderOperation(spec, path, method, operation) {
  const body = element("div", { class: "body" }, element("p", {}, operation.description || ""));
  const parameters = operation.parameters || [];
  if (parameters.length) {
    body.append(element("h4", {}, "Path parameters"));
    body.append(fieldsTable(spec, { properties: Object.fromEntries(parameters.map((p) => [p.name, p.schema])) }));
  }
  const request = operation.requestBody && operation.requestBody.content["application/json"];
  if (request) {
    body.append(element("h4", {}, "JSON body (* required)"), fieldsTable(spec, request.schema));
  }
  body.append(element("h4", {}, "Responses"));
  const responses = element("table", {});
  for (const [status, response] of Object.entries(operation.responses || {})) {
    responses.append(element("tr", {}, element("td", {}, element("code", {}, status)),
      element("td", {}, response.description || "")));
  }
  body.append(responses);
  const auth = operation.security && operation.security.length === 0 ? " (public)" : "";
  return element("details", { class: "operation" },
    element("summary", {}, element("span", { class: `method ${method}` }, method),
      element("span", { class: "path" }, path), `${operation.summary || ""}${auth}`),
    body);
}

async function main() {
  const container = document.getElementById("operations");
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("intro").textContent =
    `${spec.info.title} ${spec.info.version}: ${spec.info.description} Authenticate with ` +
    "'Authorization: Bearer <API key>' or 'X-API-Key: <API key>'. Errors are {\"error\": {\"code\", \"message\"}}.";
  const byTag = {};
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = (operation.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push(renderOperation(spec, path, method, operation));
    }
  }
  container.innerHTML = "";
  for (const [tag, operations] of Object.entries(byTag)) {
    container.append(element("h2", { class: "tag" }, tag), ...operations);
  }
}

main().catch((error) => {
  document.getElementById("operations").textContent = `Cannot load /openapi.json: ${error.message}`;
});
