// npm start: evaluates the real program for a stack offline and writes what it declares.
import * as fs from "node:fs";
import * as path from "node:path";
import { ISTIO_DEFAULTS } from "../components/istio-mesh";
import { CliError, evaluateStack, maskSecrets, parseCommandLine, runCommand, stackConfig, summary } from "./cli";
import { applyOrder, describeResource, renderManifestsYaml, toKubernetesObject } from "./manifests";
import { SchemaUnavailableError, SchemaValidator } from "./schema";
import { PROMETHEUS_ENGINE_COPY } from "./third-party";
import { PROJECT_ROOT, projectName } from "./stack-files";

const HELP = `Usage: npm start -- [options]

Evaluates the Pulumi program (index.ts) for a stack under Pulumi's mock engine, with no cloud
account, cluster or Pulumi CLI, and writes what it declares:
  <out>/<stack>/manifests.yaml   every Kubernetes and Istio object, in apply order
  <out>/<stack>/resources.json   every resource (GCP, Helm, Kubernetes, components), secrets masked
Every object is validated against the Kubernetes schemas and the pinned Istio version's CRDs first.

Options:
  --stack <name>        stack to render: Pulumi.yaml defaults + Pulumi.<name>.yaml (default: dev)
  --config key=value    override a setting as 'pulumi config set' would (repeatable)
  --out <dir>           output directory (default: out); <out>/<stack> is replaced only when
                        this tool wrote it (its .bluegreen-render marker and files, nothing
                        else), so no file of yours is ever deleted
  -h, --help            show this help

Exit codes: 0 written; 1 bad configuration, invalid objects or an output directory that is not
ours (nothing written); 2 usage error.`;

/** The marker file that says a directory was rendered by this tool and may be replaced. */
export const RENDER_MARKER = ".bluegreen-render";
/** Everything a render writes; a directory holding anything else is not replaced. */
const RENDERED_FILES = [RENDER_MARKER, "manifests.yaml", "resources.json"];

/**
 * Checks that `target` may be (re)placed: it does not exist, or it is a real directory (not a
 * link leading out of --out) holding this tool's marker and only the files this tool writes.
 */
function checkReplaceable(target: string): void {
    const shown = path.relative(process.cwd(), target) || target;
    const stat = fs.lstatSync(target, { throwIfNoEntry: false });
    if (!stat) return;
    const refuse = (why: string) => {
        throw new CliError(`${shown} ${why}; it is left untouched (nothing written): move it away or choose another --out`);
    };
    if (stat.isSymbolicLink()) refuse("is a symbolic link, which the renderer never follows out of --out");
    if (!stat.isDirectory()) refuse("exists and is not a directory");
    const entries = fs.readdirSync(target);
    if (!entries.includes(RENDER_MARKER)) refuse(`exists and was not written by npm start (it has no ${RENDER_MARKER} marker)`);
    const foreign = entries.filter((e) => !RENDERED_FILES.includes(e) || !fs.lstatSync(path.join(target, e)).isFile());
    if (foreign.length > 0) refuse(`holds ${foreign.map((f) => JSON.stringify(f)).join(", ")}, which npm start did not write`);
}

/** Replaces `target` with `source`, deleting only the files this tool writes, so readers never see a half-written directory. */
function replaceDirectory(source: string, target: string): void {
    checkReplaceable(target);
    if (fs.existsSync(target)) {
        for (const file of RENDERED_FILES) fs.rmSync(path.join(target, file), { force: true });
        fs.rmdirSync(target);
    }
    fs.renameSync(source, target);
}

/** The output root, refusing a path that exists and is not a directory. */
function outputRoot(out: string): string {
    const root = path.resolve(out);
    const stat = fs.statSync(root, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) throw new CliError(`--out ${out} is a file; allowed values: a directory (created when missing)`, 2);
    return root;
}

async function main(): Promise<number> {
    const options = parseCommandLine(process.argv.slice(2), ["out"] as const);
    if (options.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
    }
    const outRoot = outputRoot(options.out ?? path.join(PROJECT_ROOT, "out"));
    const target = path.join(outRoot, options.stack);
    checkReplaceable(target);
    const ev = await evaluateStack(options.stack, stackConfig(options.stack, options.overrides));

    const objects = applyOrder(ev.resources).map(toKubernetesObject);
    const istioVersion = ev.config[`${projectName()}:istioVersion`] ?? ISTIO_DEFAULTS.version;
    let schemaNote: string;
    try {
        const validator = await SchemaValidator.forIstio(istioVersion);
        const problems = (await Promise.all(objects.map((o) => validator.validate(o)))).flat();
        if (problems.length > 0) throw new CliError(`objects fail schema validation:\n  ${problems.join("\n  ")}`);
        schemaNote = `${objects.length} objects valid against the Kubernetes schemas (kubernetes-models), Istio ${istioVersion} CRDs ` +
            `and Managed Prometheus's PodMonitoring CRD (prometheus-engine ${PROMETHEUS_ENGINE_COPY.version})`;
    } catch (e) {
        if (!(e instanceof SchemaUnavailableError)) throw e;
        schemaNote = `NOT schema-validated: ${e.message}`;
    }

    let staging: string | undefined;
    try {
        fs.mkdirSync(outRoot, { recursive: true });
        staging = fs.mkdtempSync(path.join(outRoot, `.${options.stack}-`));
        fs.writeFileSync(path.join(staging, RENDER_MARKER), "Rendered by npm start (offline/render.ts); the next render replaces this directory.\n");
        fs.writeFileSync(path.join(staging, "manifests.yaml"), maskSecrets(renderManifestsYaml(options.stack, ev.resources)));
        fs.writeFileSync(path.join(staging, "resources.json"), maskSecrets(`${JSON.stringify(ev.resources.map(describeResource), null, 2)}\n`));
        replaceDirectory(staging, target);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (e instanceof CliError || code === undefined) throw e;
        throw new CliError(`cannot write ${path.relative(process.cwd(), target) || target}: ${(e as Error).message}`);
    } finally {
        if (staging) fs.rmSync(staging, { recursive: true, force: true });
    }

    process.stdout.write(maskSecrets([
        summary(ev),
        "",
        `Schema: ${schemaNote}`,
        `Wrote ${path.relative(process.cwd(), path.join(target, "manifests.yaml"))} (${objects.length} objects) and ` +
            `${path.relative(process.cwd(), path.join(target, "resources.json"))} (${ev.resources.length} resources)`,
        "",
    ].join("\n")));
    return 0;
}

runCommand(main);
