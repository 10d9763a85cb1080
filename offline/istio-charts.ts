// Istio's own Helm charts, read from the istio.io/istio Go module (a copy in third_party/), to check the values this package
// passes: Helm silently ignores a key no template reads, so a misspelt or legacy key would turn a
// setting off without a word.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ISTIO_CHARTS } from "../components/istio-mesh";
import { ISTIO_CHARTS_MODULE_VERSION, moduleSourceDir } from "./third-party";

export { ISTIO_CHARTS_MODULE_VERSION };

/** Where each chart of a Helm repository lives in the Istio source tree. */
export const CHART_SOURCE_DIRS: Record<keyof typeof ISTIO_CHARTS, string> = {
    base: "base",
    cni: "istio-cni",
    istiod: "istio-control/istio-discovery",
    gateway: "gateway",
};

/** Keys 1.24+ charts read in `templates/zzz_profile.yaml` before their defaults apply. */
export const PROFILE_KEYS = ["profile", "global.profile", "platform", "global.platform", "revision", "compatibilityVersion"];

/**
 * `manifests/charts` of the pinned istio.io/istio module: `$ISTIO_CHARTS` when set, else the
 * repository's copy (third_party/), else the Go module cache.
 */
export function locateIstioCharts(): string {
    if (process.env.ISTIO_CHARTS) return process.env.ISTIO_CHARTS;
    const dir = path.join(moduleSourceDir("istio.io/istio", ISTIO_CHARTS_MODULE_VERSION, "manifests/charts/base",
        "install Go or set ISTIO_CHARTS to Istio's manifests/charts"), "manifests", "charts");
    if (!fs.existsSync(dir)) throw new Error(`istio.io/istio@${ISTIO_CHARTS_MODULE_VERSION} has no ${dir}`);
    return dir;
}

/** What a chart reads: its defaults, the value paths its templates name, and those they take whole. */
export interface ChartReads {
    /** The defaults, unwrapped from `_internal_defaults_do_not_set` (1.24+ charts keep them there). */
    defaults: Record<string, any>;
    /** Every `.Values.<path>` a template or injected file names. */
    referenced: Set<string>;
    /** Paths a template takes as a whole map (range, toYaml, with, merges): any key below them is read. */
    wholeMaps: Set<string>;
}

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

/**
 * Reads a chart's values.yaml and templates. The profile machinery (`zzz_profile.yaml`, the legacy
 * `pilot.*` copy in `zzy_descope_legacy.yaml`) is left out: it touches every key, and its own keys
 * are {@link PROFILE_KEYS}.
 */
export function readChart(chartDir: string): ChartReads {
    const values = parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8")) ?? {};
    const defaults = values._internal_defaults_do_not_set ?? values;
    const referenced = new Set<string>();
    const wholeMaps = new Set<string>();
    const sources = filesUnder(chartDir).filter((f) => /\/(templates|files)\//.test(f) && !/zz[yz]_[a-z_]+\.yaml$/.test(f));
    for (const file of sources) {
        const text = fs.readFileSync(file, "utf8");
        for (const action of text.match(/\{\{[\s\S]*?\}\}/g) ?? []) {
            const takesWhole = /\b(range|toYaml|toJson|with|mergeOverwrite|mustMergeOverwrite)\b/.test(action);
            for (const m of action.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
                const valuePath = m[1].slice(1);
                referenced.add(valuePath);
                if (takesWhole) wholeMaps.add(valuePath);
            }
        }
    }
    return { defaults, referenced, wholeMaps };
}

function hasPath(value: any, dotted: string): boolean {
    let v = value;
    for (const key of dotted.split(".")) {
        if (v === null || typeof v !== "object" || !(key in v)) return false;
        v = v[key];
    }
    return true;
}

/** Every leaf path of `values`, dotted (arrays are leaves). */
export function valuePaths(values: Record<string, any>, prefix = ""): string[] {
    return Object.entries(values).flatMap(([k, v]) => {
        const p = prefix ? `${prefix}.${k}` : k;
        return v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 ? valuePaths(v, p) : [p];
    });
}

/**
 * The paths of `values` the chart never reads: not among its defaults, not a profile key, not named
 * by a template, and not below a map a template takes whole.
 */
export function unreadValues(values: Record<string, any>, chart: ChartReads): string[] {
    return valuePaths(values).filter((p) => {
        if (hasPath(chart.defaults, p) || PROFILE_KEYS.includes(p) || chart.referenced.has(p)) return false;
        const parts = p.split(".");
        return !parts.slice(0, -1).some((_, i) => chart.wholeMaps.has(parts.slice(0, i + 1).join(".")));
    });
}

/**
 * The pod labels the gateway chart gives its pods for `values`, read from its templates: the
 * selector labels of `_helpers.tpl` (`app`/`istio` from `values.labels`, else from the release
 * name) plus every entry of `values.labels`. Throws when the templates no longer have that shape.
 */
export function gatewayChartPodLabels(chartDir: string, releaseName: string, values: { labels?: Record<string, string> }): Record<string, string> {
    const helpers = fs.readFileSync(path.join(chartDir, "templates", "_helpers.tpl"), "utf8");
    const deployment = fs.readFileSync(path.join(chartDir, "templates", "deployment.yaml"), "utf8");
    const selector = /define "gateway\.selectorLabels" -\}\}\s*app: \{\{ \(\.Values\.labels\.app \| quote\) \| default \(include "gateway\.name" \.\) \}\}\s*istio: \{\{ \(\.Values\.labels\.istio \| quote\) \| default \(include "gateway\.name" \. \| trimPrefix "istio-"\) \}\}/;
    const podTemplate = /template:\s*metadata:[\s\S]*?labels:[\s\S]*?include "gateway\.selectorLabels"[\s\S]*?range \$key, \$val := \.Values\.labels/;
    if (!selector.test(helpers) || !podTemplate.test(deployment)) {
        throw new Error(`the gateway chart in ${chartDir} no longer labels its pods as gateway.selectorLabels plus .Values.labels`);
    }
    const name = releaseName;
    return {
        ...readChart(chartDir).defaults.labels,
        ...values.labels,
        app: values.labels?.app ?? name,
        istio: values.labels?.istio ?? name.replace(/^istio-/, ""),
    };
}

/**
 * The name and namespace the gateway chart gives its Service for `values`, read from its templates:
 * `gateway.name` (`values.name`, else the release name) in the release's namespace. Throws when the
 * templates no longer have that shape.
 */
export function gatewayChartServiceId(chartDir: string, release: { name: string; namespace: string }, values: Record<string, unknown>): string {
    const helpers = fs.readFileSync(path.join(chartDir, "templates", "_helpers.tpl"), "utf8");
    const service = fs.readFileSync(path.join(chartDir, "templates", "service.yaml"), "utf8");
    const name = /define "gateway\.name" -\}\}[\s\S]*?\{\{- else -\}\}\s*\{\{- \.Values\.name \| default \.Release\.Name \| default "istio-ingressgateway" -\}\}/;
    const metadata = /kind: Service\s*metadata:\s*name: \{\{ include "gateway\.name" \. \}\}\s*namespace: \{\{ \.Release\.Namespace \| quote \}\}/;
    if (!name.test(helpers) || !metadata.test(service)) {
        throw new Error(`the gateway chart in ${chartDir} no longer names its Service gateway.name in the release's namespace`);
    }
    const valuesName = typeof values.name === "string" ? values.name : "";
    return `${release.namespace}/${valuesName || release.name || "istio-ingressgateway"}`;
}

/** Reads a chart template, or throws when it no longer contains `shape` (the rendering below assumes it). */
function templateWithShape(chartDir: string, template: string, shape: RegExp, what: string): void {
    const text = fs.readFileSync(path.join(chartDir, "templates", template), "utf8");
    if (!shape.test(text)) throw new Error(`${path.join(chartDir, "templates", template)} no longer ${what}`);
}

/**
 * The Service the base chart's default validating webhook (`istiod-default-validator`) calls for
 * `defaultRevision`, as its template renders it: `istiod` for the revision named "default", else
 * `istiod-<defaultRevision>`.
 */
export function baseChartValidatorService(chartDir: string, defaultRevision: string): string {
    templateWithShape(chartDir, "defaultrevision-validatingwebhookconfiguration.yaml",
        /service:\s*\{\{- if \(eq \.Values\.defaultRevision "default"\) \}\}\s*name: istiod\s*\{\{- else \}\}\s*name: istiod-\{\{ \.Values\.defaultRevision \}\}\s*\{\{- end \}\}/,
        "names the webhook's Service istiod for \"default\" and istiod-<defaultRevision> otherwise");
    return defaultRevision === "default" ? "istiod" : `istiod-${defaultRevision}`;
}

/** The Service the istiod chart creates for `revision`, as its template renders it: `istiod`, or `istiod-<revision>`. */
export function istiodChartService(chartDir: string, revision: string): string {
    templateWithShape(chartDir, "service.yaml",
        /kind: Service\s*metadata:\s*name: istiod\{\{- if not \(eq \.Values\.revision ""\) \}\}-\{\{ \.Values\.revision \}\}\{\{- end \}\}/,
        "names its Service istiod-<revision> (istiod without one)");
    return revision === "" ? "istiod" : `istiod-${revision}`;
}

/** An object a chart template creates: its kind and its name as rendered. */
export interface ChartObjectName {
    /** The template file, relative to `templates/`. */
    template: string;
    kind: string;
    name: string;
}

/**
 * The names the istiod chart gives its objects for a revision (`""`: the revision-less istiod)
 * and release namespace, read from every `metadata.name` of its templates, whatever condition
 * guards the object (both branches of an if count). The revision and namespace expressions the
 * templates use are evaluated; names of revision tags (`$tagName`, rendered only for the
 * `revisionTags` value) are left out; any other template expression throws, so a chart whose names
 * take a shape this reading does not know fails loudly instead of passing unchecked.
 */
export function istiodChartObjectNames(chartDir: string, revision: string, namespace: string): ChartObjectName[] {
    const templates = path.join(chartDir, "templates");
    const names: ChartObjectName[] = [];
    const revisionSuffix = /\{\{-?\s*if (?:not \(eq \.Values\.revision ""\)|\.Values\.revision)\s*-?\}\}-\{\{\s*\.Values\.revision\s*\}\}\{\{-?\s*end\s*-?\}\}/g;
    for (const file of fs.readdirSync(templates).filter((f) => f.endsWith(".yaml") && !/^zz[yz]_/.test(f))) {
        for (const document of fs.readFileSync(path.join(templates, file), "utf8").split(/^---\s*$/m)) {
            const kind = /^kind:\s*(\w+)/m.exec(document)?.[1];
            const metadata = /^metadata:\n((?:(?:\s{2,}.*|\{\{.*)\n)+)/m.exec(document)?.[1] ?? "";
            for (const match of metadata.matchAll(/^ {2}name:\s*"?(.*?)"?\s*$/gm)) {
                if (match[1].includes("$tagName")) continue;
                const name = match[1]
                    .replace(revisionSuffix, revision ? `-${revision}` : "")
                    .replace(/\{\{\s*\$?\.Values\.revision\s*\|\s*default\s*"default"\s*\}\}/g, revision || "default")
                    .replace(/\{\{\s*(?:\.Release\.Namespace|\.Values\.global\.istioNamespace)\s*\}\}/g, namespace)
                    .replace(/\{\{\s*\$key\s*\}\}/g, "<gatewayClass>");
                if (name.includes("{{") || kind === undefined) throw new Error(`${file}: cannot read the name ${JSON.stringify(match[1])} of a ${kind ?? "document without kind"}`);
                names.push({ template: file, kind, name });
            }
        }
    }
    return names;
}
