// Validates rendered objects against published schemas: Kubernetes built-in kinds with the
// kubernetes-models validators (generated from the Kubernetes OpenAPI spec; cert-manager kinds
// with @kubernetes-models/cert-manager, generated from its CRDs), Istio kinds with the
// openAPIV3Schema of the CustomResourceDefinitions Istio publishes for the pinned version, read
// from the istio.io/api Go module (the same CRDs the e2e test applies to a real API server; the
// pinned version's file is kept in third_party/, so the tests need no Go).
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject } from "../components/references";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../components/validation";
import { MANAGED_PROMETHEUS_CRD_DIR, PROMETHEUS_ENGINE_COPY, moduleSourceDir, pinnedCopyDir } from "./third-party";

// kubernetes-models is ESM-only; a Function-built import() survives compilation to CommonJS.
const importEsm = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<any>;

/** Raised when a schema source cannot be found; says how to provide it. */
export class SchemaUnavailableError extends Error {}

/** What went wrong fetching the CRDs, in words: Go missing, or the module proxy refusing that version. */
export function crdFetchFailure(version: string, error: Error & { code?: string; stdout?: string }): string {
    const fix = "or set ISTIO_CRDS to a customresourcedefinitions.gen.yaml";
    if (error.code === "ENOENT") return `Go is not installed (no "go" on PATH), so Istio ${version}'s CRDs cannot be fetched: install Go ${fix}`;
    let reported: string | undefined;
    try {
        reported = JSON.parse(error.stdout ?? "").Error;
    } catch { /* not go's JSON: fall back to the process error */ }
    if (reported && /\b(403|404|410)\b|not found|unknown revision|not available/i.test(reported)) {
        return `the Go module proxy has no istio.io/api@v${version}, so istioVersion ${version} is probably not an Istio release ` +
            `(go mod download said: ${reported.replace(/\s+/g, " ")}); use an existing release such as the default, ${fix}`;
    }
    return `"go mod download istio.io/api@v${version}" failed (${(reported ?? error.message).split("\n")[0]}); check the network and GOPROXY, ${fix}`;
}

/** Where the CRD file lies in the istio.io/api module. */
const CRD_FILE = "kubernetes/customresourcedefinitions.gen.yaml";

/**
 * Finds Istio's CRD file for `version`: `$ISTIO_CRDS` when set, else the repository's copy of the
 * istio.io/api module (third_party/, the pinned version only), else that module in the Go module
 * cache (downloaded through the Go module proxy when missing).
 */
export function locateIstioCrds(version: string): string {
    if (process.env.ISTIO_CRDS) return process.env.ISTIO_CRDS;
    let dir: string;
    try {
        dir = moduleSourceDir("istio.io/api", `v${version}`, CRD_FILE, "install Go or set ISTIO_CRDS to a customresourcedefinitions.gen.yaml");
    } catch (e) {
        throw new SchemaUnavailableError(crdFetchFailure(version, ((e as Error).cause ?? e) as Error & { code?: string; stdout?: string }));
    }
    const file = path.join(dir, CRD_FILE);
    if (!fs.existsSync(file)) throw new SchemaUnavailableError(`istio.io/api@v${version} has no ${file}`);
    return file;
}

/**
 * Converts a CRD structural schema to JSON Schema for ajv. The API server prunes or (with strict
 * field validation, kubectl's default) rejects unknown fields, so objects with declared properties
 * are closed unless they preserve unknown fields; int-or-string and nullable become type unions.
 * CEL rules (x-kubernetes-validations) are left to the real API server in the e2e test.
 */
export function structuralToJsonSchema(schema: any): any {
    if (schema === null || typeof schema !== "object") return schema;
    const out: any = {};
    for (const key of ["type", "required", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
        "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties"]) {
        if (schema[key] !== undefined) out[key] = schema[key];
    }
    if (schema.properties) {
        out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, structuralToJsonSchema(v)]));
    }
    if (schema.items) out.items = structuralToJsonSchema(schema.items);
    if (schema.additionalProperties !== undefined) {
        out.additionalProperties = typeof schema.additionalProperties === "object"
            ? structuralToJsonSchema(schema.additionalProperties) : schema.additionalProperties;
    } else if (schema.properties && !schema["x-kubernetes-preserve-unknown-fields"]) {
        out.additionalProperties = false;
    }
    for (const key of ["allOf", "anyOf", "oneOf"]) {
        if (schema[key]) out[key] = schema[key].map(structuralToJsonSchema);
    }
    if (schema.not) out.not = structuralToJsonSchema(schema.not);
    if (schema["x-kubernetes-int-or-string"]) {
        delete out.type;
        out.anyOf = [...(out.anyOf ?? []), { type: "integer" }, { type: "string" }];
    }
    if (schema.nullable && typeof out.type === "string") out.type = [out.type, "null"];
    return out;
}

/**
 * The CRD files of Managed Service for Prometheus's scrape objects (PodMonitoring,
 * ClusterPodMonitoring), from the repository's pinned copy of prometheus-engine: what the schema
 * tests validate against and what the e2e harness applies to its cluster.
 */
export function locateManagedPrometheusCrds(): string[] {
    const dir = path.join(pinnedCopyDir(PROMETHEUS_ENGINE_COPY), MANAGED_PROMETHEUS_CRD_DIR);
    return Object.keys(PROMETHEUS_ENGINE_COPY.blobs).filter((f) => f.startsWith(`${MANAGED_PROMETHEUS_CRD_DIR}/`))
        .map((f) => path.join(dir, path.basename(f)));
}

/** Compiles the openAPIV3Schema of every CRD in a YAML stream, keyed `group/version/Kind`. */
function compileCrdSchemas(ajv: Ajv, text: string, into: Map<string, ValidateFunction>): void {
    for (const doc of parseAllDocuments(text)) {
        const crd = doc.toJS();
        if (crd?.kind !== "CustomResourceDefinition") continue;
        for (const version of crd.spec.versions ?? []) {
            const schema = version.schema?.openAPIV3Schema;
            if (!schema) continue;
            // apiVersion, kind and metadata are checked separately; the CRD lists them loosely.
            const { apiVersion: _a, kind: _k, metadata: _m, ...properties } = schema.properties ?? {};
            const body = structuralToJsonSchema({ ...schema, properties: { ...properties, apiVersion: {}, kind: {}, metadata: {} } });
            into.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(body));
        }
    }
}

/** Validates Kubernetes and Istio objects; `validate` returns problems (empty when valid). */
export class SchemaValidator {
    private constructor(
        private readonly crdSchemas: Map<string, ValidateFunction>,
        /** Where the CRD schemas came from, for reports. */
        public readonly crdSource: string,
    ) {}

    /** Loads the Istio CRD schemas of `istioVersion` (see {@link locateIstioCrds}) and Managed Prometheus's scrape CRDs. */
    static async forIstio(istioVersion: string): Promise<SchemaValidator> {
        const file = locateIstioCrds(istioVersion);
        const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
        const schemas = new Map<string, ValidateFunction>();
        for (const crds of [file, ...locateManagedPrometheusCrds()]) compileCrdSchemas(ajv, fs.readFileSync(crds, "utf8"), schemas);
        return new SchemaValidator(schemas, file);
    }

    /** The kinds that have a CRD schema, as `group/version/Kind`. */
    get customKinds(): string[] {
        return [...this.crdSchemas.keys()];
    }

    /** Problems with one object, each prefixed with the object's kind and name. */
    async validate(object: KubernetesObject): Promise<string[]> {
        const where = `${object.kind ?? "?"} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata?.name ?? "?"}`;
        const problems: string[] = [];
        if (typeof object.metadata?.name !== "string" || !DNS_SUBDOMAIN.test(object.metadata.name)) {
            problems.push(`metadata.name ${JSON.stringify(object.metadata?.name)} is not a DNS subdomain`);
        }
        if (object.metadata?.namespace !== undefined && (!DNS_LABEL.test(object.metadata.namespace) || object.metadata.namespace.length > 63)) {
            problems.push(`metadata.namespace ${JSON.stringify(object.metadata.namespace)} is not a DNS label`);
        }
        const crd = this.crdSchemas.get(`${object.apiVersion}/${object.kind}`);
        if (crd) {
            if (!crd(object)) {
                problems.push(...(crd.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${e.params.additionalProperty})` : ""}`));
            }
        } else {
            problems.push(...await validateBuiltIn(object));
        }
        return problems.map((p) => `${where}: ${p}`);
    }
}

/**
 * Model packages for API groups that are neither built in nor Istio's: generated from the
 * projects' published CRDs by the kubernetes-models project.
 */
const MODEL_PACKAGES: Record<string, string> = { "cert-manager.io": "@kubernetes-models/cert-manager" };

/** Validates a built-in kind (or a mapped CRD kind) with kubernetes-models; an unknown apiVersion/kind is itself a problem. */
async function validateBuiltIn(object: KubernetesObject): Promise<string[]> {
    let models: any;
    const group = object.apiVersion?.includes("/") ? object.apiVersion.split("/")[0] : "";
    try {
        models = await importEsm(`${MODEL_PACKAGES[group] ?? "kubernetes-models"}/${object.apiVersion}`);
    } catch {
        return [`apiVersion ${object.apiVersion} is neither a Kubernetes API nor a known CRD`];
    }
    const Model = models[object.kind];
    if (typeof Model !== "function") return [`kind ${object.kind} does not exist in ${object.apiVersion}`];
    try {
        new Model(object).validate();
        return [];
    } catch (e) {
        return (e as Error).message.split(/,\s*(?=data)/).map((m) => m.trim());
    }
}
