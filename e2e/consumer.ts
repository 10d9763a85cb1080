// A second Pulumi program, in its own project, that consumes the packed package (the tarball a
// user installs from npm) against the e2e cluster: up, switch, a preview showing exactly one
// update, up, destroy. It stands in for the multi-language check, which this machine cannot run:
// `pulumi package get-schema` first installs the plugins the package's dependencies name (gcp),
// and no plugin can be downloaded here.
import * as fs from "node:fs";
import * as path from "node:path";
import { packIntoConsumer } from "../offline/packed-consumer";
import { E2eRun, changedSteps } from "./harness";

const ROOT = path.join(__dirname, "..");
const NS = "shop";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { BlueGreenService, Color } from "gke-istio-bluegreen";

const config = new pulumi.Config();
const provider = new k8s.Provider("cluster", { kubeconfig: config.requireSecret("kubeconfig"), clusterIdentifier: "consumer-e2e" });
const app = new BlueGreenService("shop", {
    activeColor: config.require("activeColor") === "green" ? Color.Green : Color.Blue,
    namespace: "${NS}",
    hosts: ["shop.example.com"],
    previewAccess: { mode: "open" },
}, { providers: [provider] });
export const activeColor = app.activeColor;
`;

const consumer = packIntoConsumer(ROOT, ["typescript", "ts-node", "@types/node"]);
fs.writeFileSync(path.join(consumer.dir, "Pulumi.yaml"), "name: consumer\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
fs.writeFileSync(path.join(consumer.dir, "package.json"), JSON.stringify({ name: "consumer", private: true, main: "index.ts" }));
fs.writeFileSync(path.join(consumer.dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, esModuleInterop: true, noCheck: true, types: ["node"] },
    files: ["index.ts"],
}));
fs.writeFileSync(path.join(consumer.dir, "index.ts"), PROGRAM);
fs.mkdirSync(path.join(consumer.dir, ".state"));

const run = new E2eRun("bluegreen-e2e-consumer-", { project: consumer.dir });
const { check, pulumi, timed } = { check: run.check.bind(run), pulumi: run.pulumi.bind(run), timed: run.timed.bind(run) };

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run e2e`");
    check("the program uses the installed tarball, not the repository's sources",
        fs.realpathSync(path.join(consumer.dir, "node_modules", "gke-istio-bluegreen")).startsWith(consumer.dir) &&
        !fs.existsSync(path.join(consumer.installed, "components")));
    pulumi(["stack", "init", "consumer"]);
    pulumi(["config", "set", "--secret", "kubeconfig", kubeconfig]);
    pulumi(["config", "set", "activeColor", "blue"]);
    timed("1. pulumi up (the packed package, from nothing)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
    check("the consumer's stack reports activeColor blue", outputs.activeColor === "blue", JSON.stringify(outputs));

    pulumi(["config", "set", "activeColor", "green"]);
    const preview = timed("2. pulumi preview --json (switch to green)", () => pulumi(["preview", "--json"]));
    const changed = changedSteps(preview.stdout);
    check("the switch previews as exactly one update, the VirtualService",
        changed.length === 1 && changed[0].op === "update" && /VirtualService/.test(changed[0].urn), JSON.stringify(changed.map((s: any) => [s.op, s.urn])));
    timed("3. pulumi up (switch to green)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check("after the switch the consumer's stack reports activeColor green", JSON.parse(pulumi(["stack", "output", "--json"]).stdout).activeColor === "green");

    timed("4. pulumi destroy", () => pulumi(["destroy", "--yes", "--skip-preview"]));
    pulumi(["stack", "rm", "consumer", "--yes"]);
}

run.finish(main(), "consumer of the packed package");
