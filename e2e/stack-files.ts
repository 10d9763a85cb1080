// The README's first steps with the real CLI, in a copy of the repository:
// - `pulumi stack init dev` on a file backend changes Pulumi.dev.yaml by exactly one line, the
//   passphrase's encryptionsalt, because the committed file is written the way the CLI writes it
//   (a file written any other way is re-serialized: comments dropped, keys reordered, values quoted);
// - `pulumi config set` on it changes only the line of that key;
// - the existing-cluster recipe refuses the dev stack (its cluster settings need kubeconfig unset)
//   and previews on a new stack.
import * as fs from "node:fs";
import * as path from "node:path";
import { E2eRun } from "./harness";

const run = new E2eRun("bluegreen-e2e-stackfiles-");
const { check, pulumi, timed } = { check: run.check.bind(run), pulumi: run.pulumi.bind(run), timed: run.timed.bind(run) };
const stackFile = (stack: string) => path.join(run.project, `Pulumi.${stack}.yaml`);
const read = (stack: string) => fs.readFileSync(stackFile(stack), "utf8");

/** The lines of `after` that are not in `before`, and those of `before` that are not in `after`. */
function lineChanges(before: string, after: string): { added: string[]; removed: string[] } {
    const a = before.split("\n");
    const b = after.split("\n");
    return { added: b.filter((line) => !a.includes(line)), removed: a.filter((line) => !b.includes(line)) };
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `bash e2e/run.sh e2e/stack-files.ts`");

    const committed = read("dev");
    timed("1. pulumi stack init dev (file backend, passphrase)", () => pulumi(["stack", "init", "dev"]));
    const initialized = read("dev");
    const init = lineChanges(committed, initialized);
    check("stack init adds only the encryptionsalt line to Pulumi.dev.yaml",
        init.removed.length === 0 && init.added.length === 1 && /^encryptionsalt: v1:/.test(init.added[0]) &&
        initialized.replace(/^encryptionsalt: .*\n/m, "") === committed,
        `added ${JSON.stringify(init.added)}, removed ${JSON.stringify(init.removed)}`);

    pulumi(["config", "set", "gcp:project", "my-real-project"]);
    const set = lineChanges(initialized, read("dev"));
    check("pulumi config set changes only that key's line",
        JSON.stringify(set) === JSON.stringify({ added: ["  gcp:project: my-real-project"], removed: ["  gcp:project: my-gcp-project-id"] }),
        JSON.stringify(set));

    pulumi(["config", "set", "kubeconfig", kubeconfig]);
    const onDev = timed("2. pulumi preview on dev with kubeconfig (refused)", () => pulumi(["preview"], true));
    const refusal = onDev.stdout + onDev.stderr;
    check("the dev stack refuses kubeconfig together with its cluster settings, naming them",
        onDev.code !== 0 && /clusterName/.test(refusal) && /deletionProtection/.test(refusal), refusal.slice(-1500));

    pulumi(["stack", "init", "existing"]);
    pulumi(["config", "set", "kubeconfig", kubeconfig]);
    pulumi(["config", "set", "installIstio", "false"]);
    pulumi(["config", "set", "ingressGatewaySelector", "istio=ingressgateway"]);
    const onNew = timed("3. pulumi preview on a new stack (the README's recipe)", () => pulumi(["preview"], true));
    check("a new stack with the recipe's settings previews", onNew.code === 0, (onNew.stdout + onNew.stderr).slice(-1500));
    pulumi(["stack", "rm", "existing", "--yes"]);
}

run.finish(main(), "stack files");
