// The PR preview's least Kubernetes privilege and the deploy's drift warning, on the real Pulumi
// engine against the e2e API server (RBAC and admission on, as on GKE):
//   A. As a ServiceAccount that may only read the program's kinds, `pulumi preview` of a switch
//      still succeeds: server-side-apply dry runs are authorized like writes, and when one is
//      forbidden pulumi-kubernetes silently falls back to a client-side preview (#2419), which
//      consults no admission. With a cluster policy that refuses the switch, it still passes.
//   B. With offline/preview-rbac.ts's objects (reads plus create/patch, and an admission policy
//      allowing that identity dry runs only), the preview runs the real dry run: it fails on that
//      policy with its message and, without it, shows exactly one update, the VirtualService; the
//      same identity's `pulumi up` is refused and changes nothing, and it cannot read Secrets.
//   C. A switch made outside git (`pulumi config set` + `pulumi up`) is named by deploy.yml's
//      drift step, which then restores the committed stack file.
// Prints each step's wall time and ends with "N passed, N failed".
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { PREVIEW_ACCESS_NAME, PREVIEW_RESOURCES, previewAccessObjects, PreviewSubject } from "../offline/preview-rbac";
import { E2eRun, changedSteps } from "./harness";

const STACK = "pr-preview";
const NS = "pr-preview-ns";
const SUBJECT: PreviewSubject = { kind: "ServiceAccount", name: "bluegreen-pr-preview", namespace: "kube-system" };
const READ_ONLY_ROLE = "bluegreen-pr-preview-read-only";

const run = new E2eRun("bluegreen-e2e-pr-preview-", { env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } });
const { project } = run;
const check = run.check.bind(run);
const pulumi = run.pulumi.bind(run);
const timed = run.timed.bind(run);
const kubectl = run.kubectl.bind(run);

/** The stack's kubeconfig is this path; its content is swapped to act as another identity without changing the provider's inputs. */
const stackKubeconfig = path.join(project, "kubeconfig-stack.yaml");

/** An admission policy of the cluster's own that the switch to green breaks (an organisation's rule, as a webhook would hold). */
const CLUSTER_POLICY = {
    apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: "e2e-no-green-catch-all" },
    spec: {
        failurePolicy: "Fail",
        matchConstraints: {
            resourceRules: [{ apiGroups: ["networking.istio.io"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["virtualservices"] }],
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } },
        },
        validations: [{
            expression: "!object.spec.http.exists(r, !has(r.match) && r.route.exists(d, d.destination.subset == 'green'))",
            message: "no ordinary traffic to green in this namespace",
        }],
    },
};
const CLUSTER_POLICY_BINDING = {
    apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: CLUSTER_POLICY.metadata.name },
    spec: { policyName: CLUSTER_POLICY.metadata.name, validationActions: ["Deny"] },
};

/** Waits (up to 20 s) until `ready` holds: the API server compiles admission policies asynchronously. */
async function until(ready: () => boolean): Promise<void> {
    for (let i = 0; i < 40 && !ready(); i++) await new Promise((r) => setTimeout(r, 500));
}

/** A kubeconfig for the preview ServiceAccount: the admin's server and CA, a short-lived token. */
function previewKubeconfig(admin: string): string {
    const config = JSON.parse(kubectl(["config", "view", "--raw", "--flatten", "-o", "json", "--kubeconfig", admin]).stdout);
    const token = kubectl(["-n", SUBJECT.namespace!, "create", "token", SUBJECT.name, "--duration", "1h"]);
    if (token.code !== 0) throw new Error(`kubectl create token: ${token.stderr}`);
    config.users = [{ name: "pr-preview", user: { token: token.stdout.trim() } }];
    config.contexts = config.contexts.map((c: any) => ({ ...c, context: { ...c.context, user: "pr-preview" } }));
    return stringify(config);
}

/** The drift step of deploy.yml, run as the workflow runs it. */
function deployDriftStep(): { code: number | null; stdout: string; stderr: string } {
    const deploy = parse(fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", "deploy.yml"), "utf8"));
    const step = deploy.jobs.up.steps.find((s: any) => /config differs/.test(s.name ?? ""));
    const runnerTemp = fs.mkdtempSync(path.join(project, "runner-temp-"));
    const r = spawnSync("bash", ["-e", "-c", step.run], {
        cwd: project, encoding: "utf8", env: { ...run.env, STACK, STACK_NAME: STACK, RUNNER_TEMP: runnerTemp },
    });
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

async function main(): Promise<void> {
    const admin = process.env.KUBECONFIG;
    if (!admin) throw new Error("KUBECONFIG is not set: run through `npm run e2e`");
    fs.copyFileSync(admin, stackKubeconfig);
    pulumi(["stack", "init", STACK]);
    for (const [key, value] of [["kubeconfig", stackKubeconfig], ["installIstio", "false"], ["namespace", NS], ["activeColor", "blue"]]) pulumi(["config", "set", key, value]);
    timed("pulumi up as the cluster admin (blue)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const committed = fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8");

    kubectl(["-n", SUBJECT.namespace!, "create", "serviceaccount", SUBJECT.name]);
    const readOnly = {
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: READ_ONLY_ROLE },
        rules: Object.entries(PREVIEW_RESOURCES).map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ["get", "list", "watch"] })),
    };
    const readOnlyBinding = {
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: READ_ONLY_ROLE },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: READ_ONLY_ROLE },
        subjects: [{ kind: "ServiceAccount", name: SUBJECT.name, namespace: SUBJECT.namespace }],
    };
    kubectl(["apply", "-f", "-"], [readOnly, readOnlyBinding].map((o) => JSON.stringify(o)).join("\n"));

    // The PR: a switch to green, previewed as the preview identity.
    pulumi(["config", "set", "activeColor", "green"]);
    fs.writeFileSync(stackKubeconfig, previewKubeconfig(admin));
    const fallback = timed("A. pulumi preview as a read-only identity", () => pulumi(["preview", "--json"], true));
    check("A. with read verbs only, the preview still succeeds with one update (the provider's client-side fallback)",
        fallback.code === 0 && JSON.stringify(changedSteps(fallback.stdout).map((s) => s.type)) === '["kubernetes:networking.istio.io/v1:VirtualService"]',
        (fallback.stdout + fallback.stderr).slice(-2000));
    // A cluster policy the switch breaks, as an organisation's admission webhook would.
    fs.writeFileSync(stackKubeconfig, fs.readFileSync(admin));
    kubectl(["apply", "-f", "-"], [CLUSTER_POLICY, CLUSTER_POLICY_BINDING].map((o) => JSON.stringify(o)).join("\n"));
    await until(() => kubectl(["-n", NS, "patch", "virtualservices.networking.istio.io", "nginx", "--type=json", "--dry-run=server",
        "-p", JSON.stringify([{ op: "replace", path: "/spec/http/2/route/0/destination/subset", value: "green" }])]).code !== 0);
    fs.writeFileSync(stackKubeconfig, previewKubeconfig(admin));
    const misled = timed("A. pulumi preview as a read-only identity, with a cluster policy refusing the switch", () => pulumi(["preview", "--json"], true));
    check("A. ...and it still passes when the cluster would refuse the switch: a read-only preview can mislead", misled.code === 0,
        (misled.stdout + misled.stderr).slice(-2000));

    fs.writeFileSync(stackKubeconfig, fs.readFileSync(admin));
    kubectl(["delete", "clusterrolebinding", READ_ONLY_ROLE]);
    const applied = kubectl(["apply", "--server-side", "-f", "-"], previewAccessObjects(SUBJECT).map((o) => JSON.stringify(o)).join("\n"));
    check("B. the preview access objects are accepted (ClusterRole, binding, ValidatingAdmissionPolicy, binding)", applied.code === 0, applied.stderr);
    // The admission policy takes effect once the API server has compiled it.
    const probe = (dryRun: boolean) => kubectl(["--kubeconfig", stackKubeconfig, "-n", NS, "annotate", "--overwrite", ...(dryRun ? ["--dry-run=server"] : []), "service", "nginx", "probe=1"]);
    fs.writeFileSync(stackKubeconfig, previewKubeconfig(admin));
    await until(() => probe(false).code !== 0);
    const refused = probe(false);
    check("B. the preview identity's real write is refused by the admission policy", refused.code !== 0 && new RegExp(PREVIEW_ACCESS_NAME).test(refused.stderr), refused.stderr);
    check("B. ...and the same write as a server-side dry run is allowed", probe(true).code === 0);

    const truthful = timed("B. pulumi preview as the preview identity, with the cluster policy", () => pulumi(["preview", "--json"], true));
    check("B. the preview identity's preview runs the real dry run: it fails on the cluster policy, with its message",
        truthful.code !== 0 && /no ordinary traffic to green in this namespace/.test(truthful.stdout + truthful.stderr), (truthful.stdout + truthful.stderr).slice(-2000));
    fs.writeFileSync(stackKubeconfig, fs.readFileSync(admin));
    kubectl(["delete", "validatingadmissionpolicybinding", CLUSTER_POLICY.metadata.name]);
    kubectl(["delete", "validatingadmissionpolicy", CLUSTER_POLICY.metadata.name]);
    await until(() => kubectl(["-n", NS, "patch", "virtualservices.networking.istio.io", "nginx", "--type=json", "--dry-run=server",
        "-p", JSON.stringify([{ op: "replace", path: "/spec/http/2/route/0/destination/subset", value: "green" }])]).code === 0);
    fs.writeFileSync(stackKubeconfig, previewKubeconfig(admin));

    const allowed = timed("B. pulumi preview as the preview identity", () => pulumi(["preview", "--json"], true));
    const steps = allowed.code === 0 ? changedSteps(allowed.stdout) : [];
    check("B. with reads plus dry-run create/patch, the preview succeeds and shows exactly one update, the VirtualService",
        allowed.code === 0 && steps.length === 1 && steps[0].op === "update" && steps[0].type === "kubernetes:networking.istio.io/v1:VirtualService",
        allowed.code === 0 ? JSON.stringify(steps) : (allowed.stdout + allowed.stderr).slice(-2000));
    const up = timed("B. pulumi up as the preview identity", () => pulumi(["up", "--yes", "--skip-preview"], true));
    check("B. the preview identity's pulumi up is refused", up.code !== 0 && new RegExp(PREVIEW_ACCESS_NAME).test(up.stdout + up.stderr), (up.stdout + up.stderr).slice(-2000));
    fs.writeFileSync(stackKubeconfig, fs.readFileSync(admin));
    const vs = run.kubectlJson("-n", NS, "get", "virtualservices.networking.istio.io", "nginx");
    check("B. ...and the cluster still routes ordinary traffic to blue", JSON.stringify(vs?.spec?.http?.at(-1)?.route?.map((r: any) => r.destination.subset)) === '["blue"]',
        JSON.stringify(vs?.spec?.http));
    const user = `system:serviceaccount:${SUBJECT.namespace}:${SUBJECT.name}`;
    const secrets = kubectl(["auth", "can-i", "get", "secrets", "-n", NS, "--as", user]);
    check("B. the preview identity cannot read Secrets", secrets.stdout.trim() === "no", secrets.stdout + secrets.stderr);

    // C. A switch outside git: the next deploy names it before applying the committed file.
    pulumi(["refresh", "--yes", "--skip-preview"]);
    timed("C. pulumi config set activeColor green && pulumi up (outside git)", () => pulumi(["up", "--yes", "--skip-preview"]));
    fs.writeFileSync(path.join(project, `Pulumi.${STACK}.yaml`), committed);
    const drift = timed("C. deploy.yml's drift step", () => deployDriftStep());
    check("C. the drift step warns: activeColor deployed green, committed blue",
        drift.code === 0 && /::warning title=Stack config changed outside git::gke-istio-bluegreen:activeColor: deployed green, committed blue\./.test(drift.stdout),
        drift.stdout + drift.stderr);
    check("C. ...and leaves the committed stack file in place for pulumi up", fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8") === committed);

    timed("pulumi destroy", () => pulumi(["destroy", "--yes", "--skip-preview"]));
    pulumi(["stack", "rm", STACK, "--yes"]);
    for (const kind of ["validatingadmissionpolicybinding", "validatingadmissionpolicy", "clusterrolebinding", "clusterrole"]) kubectl(["delete", kind, PREVIEW_ACCESS_NAME, "--ignore-not-found"]);
    kubectl(["delete", "clusterrole", READ_ONLY_ROLE, "--ignore-not-found"]);
    kubectl(["-n", SUBJECT.namespace!, "delete", "serviceaccount", SUBJECT.name, "--ignore-not-found"]);
}

run.finish(main(), "PR preview privileges and drift warning");
