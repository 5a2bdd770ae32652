// The playground's JSON Schema support: a small validator of the draft
// 2020-12 keywords that payload schemas use, and an example builder that
// pre-fills an event's payload editor. The gateway's schema guard stays the
// authority: a keyword this file does not know is passed over, so the page
// may call a payload valid that the gateway refuses, never the reverse for
// the keywords it knows. Local "$ref"s ("#/$defs/x") are followed; others
// are passed over like unknown keywords.
(function (root) {
  'use strict';

  const MAX_DEPTH = 32;

  function typeOf(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
  }

  function hasType(v, want) {
    const got = typeOf(v);
    return got === want || (want === 'number' && got === 'integer');
  }

  function pointer(path) {
    return path.length === 0 ? '/' : '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  }

  function resolveRef(rootSchema, ref) {
    if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
    let node = rootSchema;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (node === null || typeof node !== 'object' || !(token in node)) return undefined;
      node = node[token];
    }
    return node;
  }

  function equal(a, b) {
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
  }

  function canonical(v) {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.keys(v).sort().reduce((o, k) => ((o[k] = canonical(v[k])), o), {});
    }
    return v;
  }

  function length(s) {
    return Array.from(s).length;
  }

  // quote and display word values as the gateway's schema library does
  // ('text' in single quotes, numbers bare), so that the page's messages
  // are the gateway's.
  function quote(s) {
    return "'" + JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'") + "'";
  }

  function display(v) {
    if (typeof v === 'string') return quote(v);
    if (v !== null && typeof v === 'object') return 'value';
    return String(v);
  }

  function primitive(v) {
    return v === null || typeof v !== 'object';
  }

  // Each check takes (schema, value, path, ctx) and pushes {path, message}
  // onto ctx.errors; ctx.root is the whole schema, for $ref.
  const checks = [
    function ref(s, v, path, ctx) {
      if (s.$ref === undefined) return;
      const target = resolveRef(ctx.root, s.$ref);
      if (target !== undefined) validateAt(target, v, path, ctx);
    },
    function type(s, v, path, ctx) {
      if (s.type === undefined) return;
      const wants = Array.isArray(s.type) ? s.type : [s.type];
      if (!wants.some((w) => hasType(v, w))) {
        fail(ctx, path, `must be ${wants.join(' or ')}, got ${typeOf(v) === 'integer' ? 'number' : typeOf(v)}`);
      }
    },
    function enumeration(s, v, path, ctx) {
      if (Array.isArray(s.enum) && !s.enum.some((e) => equal(e, v))) {
        if (!s.enum.every(primitive)) fail(ctx, path, "'enum' failed");
        else if (s.enum.length === 1) fail(ctx, path, `value must be ${display(s.enum[0])}`);
        else fail(ctx, path, `value must be one of ${s.enum.map(display).join(', ')}`);
      }
      if ('const' in s && !equal(s.const, v)) {
        fail(ctx, path, primitive(s.const) ? `value must be ${display(s.const)}` : "'const' failed");
      }
    },
    function strings(s, v, path, ctx) {
      if (typeof v !== 'string') return;
      const n = length(v);
      if (s.minLength !== undefined && n < s.minLength) {
        fail(ctx, path, `must be at least ${s.minLength} characters, got ${n}`);
      }
      if (s.maxLength !== undefined && n > s.maxLength) {
        fail(ctx, path, `must be at most ${s.maxLength} characters, got ${n}`);
      }
      if (typeof s.pattern === 'string') {
        let re;
        try {
          re = new RegExp(s.pattern, 'u');
        } catch {
          return; // a pattern JavaScript cannot read: the gateway decides
        }
        if (!re.test(v)) fail(ctx, path, `${quote(v)} does not match pattern ${quote(s.pattern)}`);
      }
    },
    function numbers(s, v, path, ctx) {
      if (typeof v !== 'number') return;
      const bound = (keyword, broken) => {
        if (s[keyword] !== undefined && broken(s[keyword])) fail(ctx, path, `${keyword}: got ${v}, want ${s[keyword]}`);
      };
      bound('minimum', (want) => v < want);
      bound('maximum', (want) => v > want);
      bound('exclusiveMinimum', (want) => v <= want);
      bound('exclusiveMaximum', (want) => v >= want);
      bound('multipleOf', (want) => want > 0 && !Number.isInteger(v / want));
    },
    function objects(s, v, path, ctx) {
      if (typeOf(v) !== 'object') return;
      const keys = Object.keys(v);
      for (const name of s.required || []) {
        if (!(name in v)) fail(ctx, [...path, name], 'is required');
      }
      if (s.minProperties !== undefined && keys.length < s.minProperties) {
        fail(ctx, path, `minProperties: got ${keys.length}, want ${s.minProperties}`);
      }
      if (s.maxProperties !== undefined && keys.length > s.maxProperties) {
        fail(ctx, path, `maxProperties: got ${keys.length}, want ${s.maxProperties}`);
      }
      const extra = [];
      for (const key of keys) {
        let known = false;
        if (s.properties && Object.prototype.hasOwnProperty.call(s.properties, key)) {
          known = true;
          validateAt(s.properties[key], v[key], [...path, key], ctx);
        }
        for (const [pattern, sub] of Object.entries(s.patternProperties || {})) {
          if (safeTest(pattern, key)) {
            known = true;
            validateAt(sub, v[key], [...path, key], ctx);
          }
        }
        if (!known && s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) extra.push(key);
          else validateAt(s.additionalProperties, v[key], [...path, key], ctx);
        }
      }
      if (extra.length > 0) fail(ctx, path, `unexpected properties ${extra.join(', ')}`);
    },
    function arrays(s, v, path, ctx) {
      if (!Array.isArray(v)) return;
      if (s.minItems !== undefined && v.length < s.minItems) fail(ctx, path, `minItems: got ${v.length}, want ${s.minItems}`);
      if (s.maxItems !== undefined && v.length > s.maxItems) fail(ctx, path, `maxItems: got ${v.length}, want ${s.maxItems}`);
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
      v.forEach((item, i) => {
        if (i < prefix.length) validateAt(prefix[i], item, [...path, i], ctx);
        else if (s.items !== undefined) validateAt(s.items, item, [...path, i], ctx);
      });
      if (s.uniqueItems === true) {
        const pair = duplicates(v);
        if (pair) fail(ctx, path, `items at ${pair[0]} and ${pair[1]} are equal`);
      }
    },
    function combinators(s, v, path, ctx) {
      for (const sub of s.allOf || []) validateAt(sub, v, path, ctx);
      // When no subschema matches, the gateway tells the first failure of
      // the first one; so does the page.
      for (const key of ['anyOf', 'oneOf']) {
        if (!Array.isArray(s[key]) || s[key].length === 0) continue;
        const results = s[key].map((sub) => errorsAt(sub, v, path, ctx));
        const matched = results.map((errors, i) => (errors.length === 0 ? i : -1)).filter((i) => i >= 0);
        if (matched.length === 0) ctx.errors.push(results[0][0]);
        else if (key === 'oneOf' && matched.length > 1) {
          fail(ctx, path, `'oneOf' failed, subschemas ${matched[0]}, ${matched[1]} matched`);
        }
      }
      if (s.not !== undefined && isValid(s.not, v, ctx)) fail(ctx, path, 'must not match the schema of not');
      if (s.if !== undefined) {
        const branch = isValid(s.if, v, ctx) ? s.then : s.else;
        if (branch !== undefined) validateAt(branch, v, path, ctx);
      }
    },
  ];

  // duplicates finds the first pair of equal items in the gateway's order:
  // the first later item equal to an earlier one.
  function duplicates(items) {
    for (let i = 1; i < items.length; i++) {
      for (let j = 0; j < i; j++) {
        if (equal(items[i], items[j])) return [j, i];
      }
    }
    return null;
  }

  function safeTest(pattern, text) {
    try {
      return new RegExp(pattern, 'u').test(text);
    } catch {
      return false;
    }
  }

  function fail(ctx, path, message) {
    ctx.errors.push({ path: pointer(path), message });
  }

  function errorsAt(schema, value, path, ctx) {
    const sub = { root: ctx.root, errors: [], depth: ctx.depth };
    validateAt(schema, value, path, sub);
    return sub.errors;
  }

  function isValid(schema, value, ctx) {
    return errorsAt(schema, value, [], ctx).length === 0;
  }

  function validateAt(schema, value, path, ctx) {
    if (schema === true || schema === undefined) return;
    if (schema === false) {
      fail(ctx, path, 'is not allowed');
      return;
    }
    if (schema === null || typeof schema !== 'object' || ctx.depth > MAX_DEPTH) return;
    ctx.depth++;
    for (const check of checks) check(schema, value, path, ctx);
    ctx.depth--;
  }

  /**
   * Validates value against schema; returns a list of {path, message}, empty
   * when the value is valid, each message worded like the gateway's
   * invalid_payload messages ("/message: must be at least 1 characters, got 0").
   */
  function validate(schema, value) {
    const ctx = { root: schema, errors: [], depth: 0 };
    validateAt(schema, value, [], ctx);
    return ctx.errors;
  }

  /** Formats one error of validate as the gateway does: "<pointer>: <message>". */
  function describe(error) {
    return `${error.path}: ${error.message}`;
  }

  /**
   * An example value for schema: its examples, default, const or first enum
   * when written, else a value built from its type and bounds (every property
   * of an object, minItems items of an array, a string of an allowed
   * length). name, when given, is the property the value is for.
   */
  function example(schema, name, rootSchema = schema, depth = 0) {
    if (schema === true || schema === undefined || schema === null) return name ? name : {};
    if (typeof schema !== 'object' || depth > MAX_DEPTH) return null;
    if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
    if ('default' in schema) return schema.default;
    if ('const' in schema) return schema.const;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
    if (schema.$ref !== undefined) {
      const target = resolveRef(rootSchema, schema.$ref);
      if (target !== undefined) return example(target, name, rootSchema, depth + 1);
    }
    for (const key of ['allOf', 'anyOf', 'oneOf']) {
      if (Array.isArray(schema[key]) && schema[key].length > 0 && schema.type === undefined && !schema.properties) {
        if (key !== 'allOf') return example(schema[key][0], name, rootSchema, depth + 1);
        return schema.allOf.reduce((acc, sub) => merge(acc, example(sub, name, rootSchema, depth + 1)), undefined);
      }
    }
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') || schema.type[0] : schema.type;
    return exampleOfType(type || (schema.properties ? 'object' : undefined), schema, name, rootSchema, depth);
  }

  function merge(a, b) {
    if (typeOf(a) === 'object' && typeOf(b) === 'object') return { ...a, ...b };
    return b === undefined ? a : b;
  }

  function exampleOfType(type, schema, name, rootSchema, depth) {
    switch (type) {
      case 'object': {
        // Required properties always; an optional one only when the example
        // built for it fits its schema (a pattern, say, it cannot follow).
        const out = {};
        const required = schema.required || [];
        for (const [key, sub] of Object.entries(schema.properties || {})) {
          const value = example(sub, key, rootSchema, depth + 1);
          if (required.includes(key) || errorsAt(sub, value, [], { root: rootSchema, depth: 0 }).length === 0) {
            out[key] = value;
          }
        }
        return out;
      }
      case 'array': {
        const n = Math.max(schema.minItems || 0, 1);
        const items = [];
        for (let i = 0; i < n; i++) {
          const sub = Array.isArray(schema.prefixItems) && i < schema.prefixItems.length ? schema.prefixItems[i] : schema.items;
          items.push(example(sub, name, rootSchema, depth + 1));
        }
        return schema.maxItems === 0 ? [] : items;
      }
      case 'string':
        return exampleString(schema, name);
      case 'integer':
      case 'number':
        return exampleNumber(schema, type);
      case 'boolean':
        return true;
      case 'null':
        return null;
      default:
        return name ? exampleString(schema, name) : {};
    }
  }

  function exampleString(schema, name) {
    const formats = { email: 'user@example.com', uri: 'https://example.com/', 'date-time': new Date(0).toISOString(), uuid: '00000000-0000-4000-8000-000000000000' };
    let s = formats[schema.format] || (name ? String(name) : 'text');
    const min = schema.minLength || 0;
    while (length(s) < min) s += 'x';
    if (schema.maxLength !== undefined && length(s) > schema.maxLength) s = Array.from(s).slice(0, schema.maxLength).join('');
    return s;
  }

  function exampleNumber(schema, type) {
    let n = schema.minimum !== undefined ? schema.minimum : schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1;
    if (schema.maximum !== undefined && n > schema.maximum) n = schema.maximum;
    return type === 'integer' ? Math.ceil(n) : n;
  }

  const api = { validate, describe, example };
  if (typeof module === 'object' && module.exports) module.exports = api;
  root.GatehouseSchema = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
