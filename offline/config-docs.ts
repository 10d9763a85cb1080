// Writes docs/configuration.md from Pulumi.yaml (the settings, their types, defaults and
// descriptions) and from the stack-config reader's own tables (prerequisites, secrets), so the
// reference cannot drift from what `pulumi up` reads. test/config-docs.test.ts fails while the
// committed page differs from what this produces.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { PREREQUISITES, SECRET_SETTINGS } from "../components/stack-config";
import { PROJECT_ROOT } from "./stack-files";

/** Where the generated page lives, relative to the project root. */
export const CONFIGURATION_PAGE = "docs/configuration.md";

/** The command that regenerates the page (printed in its header and in the check's message). */
export const REGENERATE_COMMAND = "npm run docs:config";

/** One `config:` entry of Pulumi.yaml. */
interface DeclaredSetting {
    type: string;
    items?: { type: string };
    description?: string;
    default?: unknown;
}

/** Provider settings the program reads: not declared in Pulumi.yaml, so described here. */
const PROVIDER_SETTINGS: [key: string, description: string][] = [
    ["gcp:project", "Your GCP project ID. Required when the stack builds a GKE cluster (kubeconfig unset)."],
    ["gcp:region", "Region of the network and the default cluster location. Required when the stack builds a GKE cluster, unless clusterLocation is set."],
];

const PREAMBLE = `# Configuration reference

<!-- Generated from Pulumi.yaml and components/stack-config.ts by \`${REGENERATE_COMMAND}\`.
     Do not edit by hand: change Pulumi.yaml (or the prerequisite table) and regenerate;
     test/config-docs.test.ts fails while this page differs. -->

Every setting of the program that \`pulumi up\` runs (\`index.ts\`), as declared in \`Pulumi.yaml\`.
Set one with \`pulumi config set <key> <value>\`, a list with
\`pulumi config set --path '<key>[0]' <value>\`, and try one offline with
\`npm start -- --config <key>=<value>\` or \`npm run plan -- --config <key>=<value>\`.

How the program reads them (\`pulumi up\`, \`npm start\` and \`npm run plan\` refuse the same mistakes):

- **Bad values are refused before any resource is declared**, with the setting's name and the
  allowed values, every problem in one message. Nothing is half-built.
- **Unknown keys are refused.** A key of this project that is not below (\`activeColour\`,
  \`blueReplica\`) is refused with "did you mean \`activeColor\`?". Keys of other namespaces are
  provider settings and stay allowed (\`gcp:zone\`, \`kubernetes:context\`), except those named like
  one of ours (\`gcp:activeColor\`), which nothing reads. The Pulumi CLI itself checks only declared
  keys, so without this a misspelt key would be silently ignored.
- **"Needs …"**: a setting set away from its default while what it needs is off is refused, naming
  the prerequisite, because it would otherwise do nothing.
- **Warnings, not refusals, for what a dated list cannot know**: a newer Istio patch or minor, a
  region or machine series the package's lists (dated in the code) do not name. \`pulumi up\` goes on
  and prints the warning under the setting's name.
- **Unset** means the declared default \`""\`: the Pulumi CLI treats a declared setting without a
  default as required, so the empty string stands for "not set".
- **Secrets.** Settings marked *secret* can hold credentials: the program passes them on as Pulumi
  secrets (\`[secret]\` in previews and the state) and messages never quote them. Set them with
  \`pulumi config set --secret\` so the stack file keeps them encrypted too.
- **What the cluster would refuse is refused first:** header regexes RE2 cannot compile (no
  lookaround, no backreferences), hosts listed twice or covered by a wildcard in the same list,
  durations below Istio's 1ms minimum, image references outside the distribution grammar, a key
  named twice in weights or selectors, a workload namespace that Kubernetes, Istio, the ingress
  gateway or cert-manager owns, two external services that map to one ServiceEntry name.
`;

/** `string`, `integer`, `boolean`, `array of string`. */
function typeOf(setting: DeclaredSetting): string {
    return setting.type === "array" ? `array of ${setting.items?.type ?? "string"}` : setting.type;
}

/** The declared default as a user would type it; `""` is shown as unset. */
function defaultOf(setting: DeclaredSetting): string {
    const value = setting.default;
    if (value === undefined) return "required";
    if (value === "") return "unset";
    return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/** Text safe inside a Markdown table cell: one line, pipes escaped, `<placeholder>` shown rather than taken for HTML. */
function cell(text: string): string {
    return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;").trim();
}

/** The prerequisites a setting has, from the reader's own rule table. */
function needsOf(key: string): string[] {
    return PREREQUISITES.filter((rule) => rule.settings.includes(key)).map((rule) => `Needs ${rule.needs}.`);
}

/** The generated page for the given Pulumi.yaml text. Pure: the test calls it. */
export function renderConfigurationReference(projectYaml: string): string {
    const project = parse(projectYaml) as { config?: Record<string, DeclaredSetting> };
    const settings = Object.entries(project.config ?? {});
    if (settings.length === 0) throw new Error("Pulumi.yaml declares no config settings");
    const rows = settings.map(([key, setting]) => {
        const notes = [
            setting.description ?? "",
            ...needsOf(key),
            ...(SECRET_SETTINGS.has(key) ? ["*Secret.*"] : []),
        ].filter((note) => note !== "");
        return `| \`${key}\` | ${typeOf(setting)} | ${cell(defaultOf(setting))} | ${cell(notes.join(" "))} |`;
    });
    const providerRows = PROVIDER_SETTINGS.map(([key, description]) => `| \`${key}\` | string | unset | ${cell(description)} |`);
    return [
        PREAMBLE,
        `## Settings (${settings.length})`,
        "",
        "| setting | type | default | what it does, allowed values |",
        "|---|---|---|---|",
        ...rows,
        "",
        "## Provider settings the program reads",
        "",
        "| setting | type | default | what it does |",
        "|---|---|---|---|",
        ...providerRows,
        "",
    ].join("\n");
}

/** The page as the generator would write it for the project at `root`. */
export function expectedConfigurationPage(root = PROJECT_ROOT): string {
    return renderConfigurationReference(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
}

if (require.main === module) {
    const target = path.join(PROJECT_ROOT, CONFIGURATION_PAGE);
    const expected = expectedConfigurationPage();
    if (process.argv.includes("--check")) {
        const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
        if (current !== expected) {
            console.error(`${CONFIGURATION_PAGE} differs from Pulumi.yaml: run ${REGENERATE_COMMAND}`);
            process.exit(1);
        }
        console.log(`${CONFIGURATION_PAGE} is up to date`);
    } else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, expected);
        console.log(`wrote ${CONFIGURATION_PAGE}`);
    }
}
