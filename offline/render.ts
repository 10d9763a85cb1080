// npm start: evaluates the real program for a stack offline and writes what it declares.
import * as fs from "node:fs";
import * as path from "node:path";
import { ISTIO_DEFAULTS } from "../components/istio-mesh";
import { CliError, evaluateStack, parseCommandLine, runCommand, stackConfig, summary } from "./cli";
import { applyOrder, describeResource, renderManifestsYaml, toKubernetesObject } from "./manifests";
import { SchemaUnavailableError, SchemaValidator } from "./schema";
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
  --out <dir>           output directory (default: out)
  -h, --help            show this help

Exit codes: 0 written; 1 bad configuration or invalid objects (nothing written); 2 usage error.`;

/** Replaces `target` with `source` in one step, so readers never see a half-written directory. */
function replaceDirectory(source: string, target: string): void {
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(source, target);
}

async function main(): Promise<number> {
    const options = parseCommandLine(process.argv.slice(2), ["out"] as const);
    if (options.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
    }
    const ev = await evaluateStack(options.stack, stackConfig(options.stack, options.overrides));

    const objects = applyOrder(ev.resources).map(toKubernetesObject);
    const istioVersion = ev.config[`${projectName()}:istioVersion`] ?? ISTIO_DEFAULTS.version;
    let schemaNote: string;
    try {
        const validator = await SchemaValidator.forIstio(istioVersion);
        const problems = (await Promise.all(objects.map((o) => validator.validate(o)))).flat();
        if (problems.length > 0) throw new CliError(`objects fail schema validation:\n  ${problems.join("\n  ")}`);
        schemaNote = `${objects.length} objects valid against the Kubernetes schemas (kubernetes-models) and Istio ${istioVersion} CRDs`;
    } catch (e) {
        if (!(e instanceof SchemaUnavailableError)) throw e;
        schemaNote = `NOT schema-validated: ${e.message}`;
    }

    const outRoot = path.resolve(options.out ?? path.join(PROJECT_ROOT, "out"));
    const target = path.join(outRoot, options.stack);
    fs.mkdirSync(outRoot, { recursive: true });
    const staging = fs.mkdtempSync(path.join(outRoot, `.${options.stack}-`));
    try {
        fs.writeFileSync(path.join(staging, "manifests.yaml"), renderManifestsYaml(options.stack, ev.resources));
        fs.writeFileSync(path.join(staging, "resources.json"), `${JSON.stringify(ev.resources.map(describeResource), null, 2)}\n`);
        replaceDirectory(staging, target);
    } finally {
        fs.rmSync(staging, { recursive: true, force: true });
    }

    process.stdout.write([
        summary(ev),
        "",
        `Schema: ${schemaNote}`,
        `Wrote ${path.relative(process.cwd(), path.join(target, "manifests.yaml"))} (${objects.length} objects) and ` +
            `${path.relative(process.cwd(), path.join(target, "resources.json"))} (${ev.resources.length} resources)`,
        "",
    ].join("\n"));
    return 0;
}

runCommand(main);
