/**
 * Request-body validation against Microsoft's own CSDL of the Graph mail types
 * (`schema/graph-v1.0-mail-excerpt.csdl`, MIT, vendored with its licence).
 *
 * It reads JSON the way Graph's OData reader does, closely enough that a body our client builds
 * wrongly fails here as it would against Graph: unknown properties, wrong JSON kinds, bad enum
 * literals, bad base64, null in a collection, abstract types without `@odata.type`.
 * Action parameters match case-insensitively (Graph accepts `message` for `Message`); structural
 * property names are case-sensitive, as OData's are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';

export const DEFAULT_CSDL_PATH = path.join(__dirname, 'schema', 'graph-v1.0-mail-excerpt.csdl');

const NAMESPACE = 'microsoft.graph';

export interface PropertyDef {
  name: string;
  /** Fully qualified element type, e.g. `Edm.String` or `microsoft.graph.recipient`. */
  type: string;
  collection: boolean;
  nullable: boolean;
}

export interface StructuredTypeDef {
  kind: 'entity' | 'complex';
  name: string;
  baseType?: string;
  abstract: boolean;
  /** Own and inherited properties, structural and navigation. */
  properties: Map<string, PropertyDef>;
}

export interface ActionDef {
  name: string;
  /** Parameters other than the binding parameter, keyed by lower-case name. */
  parameters: Map<string, PropertyDef>;
}

export interface SchemaError {
  code: 'RequestBodyRead' | 'BadRequest';
  message: string;
}

/** The body of an action call, parameters under their schema names (`Message`, not `message`). */
export type ActionParameters = Record<string, unknown>;

interface CsdlProperty {
  Name: string;
  Type: string;
  Nullable?: string;
}
interface CsdlStructured {
  Name: string;
  BaseType?: string;
  Abstract?: string;
  Property?: CsdlProperty[];
  NavigationProperty?: CsdlProperty[];
}
interface CsdlEnum {
  Name: string;
  Member?: { Name: string; Value?: string }[];
}
interface CsdlAction {
  Name: string;
  IsBound?: string;
  Parameter?: CsdlProperty[];
}
interface CsdlSchema {
  Namespace: string;
  Alias?: string;
  EnumType?: CsdlEnum[];
  ComplexType?: CsdlStructured[];
  EntityType?: CsdlStructured[];
  Action?: CsdlAction[];
}

const ARRAY_ELEMENTS = new Set([
  'Schema',
  'EnumType',
  'Member',
  'ComplexType',
  'EntityType',
  'Property',
  'NavigationProperty',
  'Action',
  'Parameter',
]);

/** Graph reflects a literal back in its message; keep a 4 MB one out of ours. */
function literal(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The JSON reader's node name for a value, as OData's error messages use it. */
function nodeKind(value: unknown): string {
  if (Array.isArray(value)) return 'StartArray';
  if (value !== null && typeof value === 'object') return 'StartObject';
  return 'PrimitiveValue';
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /\s/;

/**
 * Base64 as .NET's Convert.FromBase64String reads it (what Graph uses for Edm.Binary): the
 * standard alphabet, whitespace ignored, length a multiple of 4. base64url is refused.
 */
export function isValidBase64(text: string): boolean {
  const compact = WHITESPACE.test(text) ? text.replace(/\s+/g, '') : text;
  return compact.length % 4 === 0 && BASE64_BODY.test(compact);
}

/** Size in bytes of what a valid base64 string decodes to, without decoding it. */
export function base64DecodedLength(text: string): number {
  const compact = WHITESPACE.test(text) ? text.replace(/\s+/g, '') : text;
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  return (compact.length / 4) * 3 - padding;
}

export class GraphSchema {
  readonly types = new Map<string, StructuredTypeDef>();
  /** Enum members keyed by lower-case name (Graph accepts `HTML` for `html`). */
  readonly enums = new Map<string, Map<string, string>>();
  readonly actions = new Map<string, ActionDef>();

  static load(file: string = DEFAULT_CSDL_PATH): GraphSchema {
    return new GraphSchema(fs.readFileSync(file, 'utf8'));
  }

  constructor(csdlXml: string) {
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      removeNSPrefix: true,
      isArray: (name) => ARRAY_ELEMENTS.has(name),
    });
    const doc = parser.parse(csdlXml) as { Edmx?: { DataServices?: { Schema?: CsdlSchema[] } } };
    const schemas = doc.Edmx?.DataServices?.Schema ?? [];
    const raw = new Map<string, { kind: 'entity' | 'complex'; def: CsdlStructured }>();
    for (const schema of schemas) {
      const qualify = (name: string): string => this.qualify(name, schema);
      for (const e of schema.EnumType ?? []) {
        const members = new Map<string, string>();
        for (const m of e.Member ?? []) members.set(m.Name.toLowerCase(), m.Name);
        this.enums.set(qualify(e.Name), members);
      }
      for (const c of schema.ComplexType ?? []) raw.set(qualify(c.Name), { kind: 'complex', def: c });
      for (const e of schema.EntityType ?? []) raw.set(qualify(e.Name), { kind: 'entity', def: e });
      for (const a of schema.Action ?? []) {
        const parameters = new Map<string, PropertyDef>();
        const params = a.Parameter ?? [];
        // The first parameter of a bound action is the binding parameter, not part of the body.
        for (const p of a.IsBound === 'true' ? params.slice(1) : params) {
          parameters.set(p.Name.toLowerCase(), this.propertyDef(p, schema));
        }
        this.actions.set(a.Name, { name: a.Name, parameters });
      }
    }
    // Resolve inheritance once, so validation looks properties up in a single map.
    const resolve = (name: string): StructuredTypeDef => {
      const done = this.types.get(name);
      if (done) return done;
      const entry = raw.get(name);
      if (!entry) throw new Error(`CSDL: unknown type ${name}`);
      const schema = schemas.find((s) => name.startsWith(`${s.Namespace}.`)) ?? schemas[0];
      const baseType = entry.def.BaseType ? this.qualify(entry.def.BaseType, schema) : undefined;
      const properties = new Map<string, PropertyDef>(baseType ? resolve(baseType).properties : []);
      for (const p of [...(entry.def.Property ?? []), ...(entry.def.NavigationProperty ?? [])]) {
        properties.set(p.Name, this.propertyDef(p, schema));
      }
      const def: StructuredTypeDef = {
        kind: entry.kind,
        name,
        baseType,
        abstract: entry.def.Abstract === 'true',
        properties,
      };
      this.types.set(name, def);
      return def;
    };
    for (const name of raw.keys()) resolve(name);
  }

  private qualify(name: string, schema: CsdlSchema): string {
    if (schema.Alias && name.startsWith(`${schema.Alias}.`)) {
      return `${schema.Namespace}.${name.slice(schema.Alias.length + 1)}`;
    }
    return name.includes('.') ? name : `${schema.Namespace}.${name}`;
  }

  private propertyDef(p: CsdlProperty, schema: CsdlSchema): PropertyDef {
    const match = /^Collection\((.+)\)$/.exec(p.Type);
    const elementType = match ? match[1] : p.Type;
    return {
      name: p.Name,
      type: elementType.startsWith('Edm.') ? elementType : this.qualify(elementType, schema),
      collection: Boolean(match),
      nullable: p.Nullable !== 'false',
    };
  }

  /** True when `type` is `base` or derives from it. */
  isDerivedFrom(type: string, base: string): boolean {
    for (let t: string | undefined = type; t; t = this.types.get(t)?.baseType) {
      if (t === base) return true;
    }
    return false;
  }

  /**
   * Validates an action's JSON body. On success the parameters come back under their schema
   * names, so callers read `Message` whether the client wrote `message` or `Message`.
   */
  validateAction(actionName: string, body: unknown): { params: ActionParameters } | { error: SchemaError } {
    const action = this.actions.get(actionName);
    if (!action) throw new Error(`CSDL: unknown action ${actionName}`);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return {
        error: {
          code: 'RequestBodyRead',
          message: `An unexpected '${nodeKind(body)}' node was found when reading from the JSON reader. A 'StartObject' node was expected.`,
        },
      };
    }
    const params: ActionParameters = {};
    for (const [key, value] of Object.entries(body)) {
      if (key.includes('@')) continue; // instance annotations such as @odata.context
      const def = action.parameters.get(key.toLowerCase());
      if (!def) {
        return {
          error: {
            code: 'RequestBodyRead',
            message: `The parameter '${key}' in the request payload is not a valid parameter for the operation '${action.name}'.`,
          },
        };
      }
      const error = this.validateValue(value, def, def.name);
      if (error) return { error };
      params[def.name] = value;
    }
    for (const def of action.parameters.values()) {
      if (!def.nullable && params[def.name] === undefined) {
        return {
          error: {
            code: 'RequestBodyRead',
            message: `The parameter '${def.name}' in the request payload is not nullable and must be supplied for the operation '${action.name}'.`,
          },
        };
      }
    }
    return { params };
  }

  /** Validates a JSON value that should be an instance of the named entity or complex type. */
  validateInstance(value: unknown, typeName: string): SchemaError | undefined {
    return this.validateValue(value, { name: typeName, type: typeName, collection: false, nullable: false }, typeName);
  }

  private validateValue(value: unknown, def: PropertyDef, where: string): SchemaError | undefined {
    if (value === null) {
      if (def.collection || !def.nullable) {
        const shown = def.collection ? `Collection(${def.type})` : def.type;
        return {
          code: 'RequestBodyRead',
          message: `A null value was found for the property named '${where}', which has the expected type '${shown}[Nullable=False]'. The expected type '${shown}[Nullable=False]' does not allow null values.`,
        };
      }
      return undefined;
    }
    if (def.collection) {
      if (!Array.isArray(value)) {
        return {
          code: 'RequestBodyRead',
          message: `An unexpected '${nodeKind(value)}' node was found for property named '${where}' when reading from the JSON reader. A 'StartArray' node was expected.`,
        };
      }
      const itemDef: PropertyDef = { ...def, collection: false, nullable: false };
      for (const item of value) {
        const error = this.validateValue(item, itemDef, where);
        if (error) return error;
      }
      return undefined;
    }
    if (def.type.startsWith('Edm.')) return this.validatePrimitive(value, def.type, where);
    const members = this.enums.get(def.type);
    if (members) {
      if (typeof value !== 'string') return this.kindError(value, where, 'PrimitiveValue');
      if (!members.has(value.toLowerCase())) {
        return { code: 'RequestBodyRead', message: `Requested value '${literal(value)}' was not found.` };
      }
      return undefined;
    }
    return this.validateStructured(value, def.type, where);
  }

  private kindError(value: unknown, where: string, expected: string): SchemaError {
    return {
      code: 'RequestBodyRead',
      message: `An unexpected '${nodeKind(value)}' node was found for property named '${where}' when reading from the JSON reader. A '${expected}' node was expected.`,
    };
  }

  private validatePrimitive(value: unknown, type: string, where: string): SchemaError | undefined {
    if (typeof value === 'object') return this.kindError(value, where, 'PrimitiveValue');
    const cannotConvert = (): SchemaError => ({
      code: 'RequestBodyRead',
      message: `Cannot convert the literal '${literal(value)}' to the expected type '${type}'.`,
    });
    switch (type) {
      case 'Edm.String':
        return typeof value === 'string' ? undefined : cannotConvert();
      case 'Edm.Boolean':
        return typeof value === 'boolean' ? undefined : cannotConvert();
      case 'Edm.Int32':
        return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2 ** 31 ? undefined : cannotConvert();
      case 'Edm.Int64':
        return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : cannotConvert();
      case 'Edm.DateTimeOffset':
        return typeof value === 'string' && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))
          ? undefined
          : cannotConvert();
      case 'Edm.Binary':
        if (typeof value !== 'string') return cannotConvert();
        if (!isValidBase64(value)) {
          // .NET's own FormatException text, which is what Graph passes on.
          return {
            code: 'RequestBodyRead',
            message:
              'The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters.',
          };
        }
        return undefined;
      default:
        return undefined; // a primitive type the excerpt does not use: accept rather than guess
    }
  }

  private validateStructured(value: unknown, expectedType: string, where: string): SchemaError | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.kindError(value, where, 'StartObject');
    }
    const obj = value as Record<string, unknown>;
    let typeName = expectedType;
    const annotated = obj['@odata.type'];
    if (annotated !== undefined) {
      if (typeof annotated !== 'string') return this.kindError(annotated, '@odata.type', 'PrimitiveValue');
      const named = annotated.replace(/^#/, '');
      const qualified = named.includes('.') ? named : `${NAMESPACE}.${named}`;
      if (!this.types.has(qualified)) {
        return {
          code: 'RequestBodyRead',
          message: `A type named '${named}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.`,
        };
      }
      if (this.types.has(expectedType) && !this.isDerivedFrom(qualified, expectedType)) {
        return {
          code: 'RequestBodyRead',
          message: `A resource with type '${qualified}' was found, but it is not assignable to the expected type '${expectedType}'. The type specified in the resource must be equal to either the expected type or a derived type.`,
        };
      }
      typeName = qualified;
    }
    const type = this.types.get(typeName);
    // A navigation target the excerpt does not define (graph.extension): accept any object.
    if (!type) return undefined;
    if (type.abstract) {
      return {
        code: 'RequestBodyRead',
        message: `The type '${typeName}' is abstract: a resource of it needs an '@odata.type' annotation naming a concrete derived type.`,
      };
    }
    for (const [key, child] of Object.entries(obj)) {
      if (key.includes('@')) continue; // annotations: @odata.type, name@odata.type, ...
      const prop = type.properties.get(key);
      if (!prop) {
        return {
          code: 'RequestBodyRead',
          message: `The property '${key}' does not exist on type '${typeName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
        };
      }
      const error = this.validateValue(child, prop, key);
      if (error) return error;
    }
    return undefined;
  }
}

let shared: GraphSchema | undefined;

/** The vendored schema, parsed once per process. */
export function graphSchema(): GraphSchema {
  shared ??= GraphSchema.load();
  return shared;
}
