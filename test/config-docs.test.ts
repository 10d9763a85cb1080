import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { STACK_SETTINGS } from "../components/stack-config";
import { CONFIGURATION_PAGE, REGENERATE_COMMAND, expectedConfigurationPage, renderConfigurationReference } from "../offline/config-docs";

const root = path.join(__dirname, "..");
const projectYaml = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");

/** `text` as a Markdown cell shows it: pipes escaped, angle brackets as entities (not HTML tags). */
function shown(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The table row of `key` in a rendered page, or undefined. */
function rowOf(page: string, key: string): string | undefined {
    return page.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
}

describe("docs/configuration.md (generated from Pulumi.yaml)", () => {
    it("is what the generator produces from the current Pulumi.yaml", () => {
        const committed = fs.readFileSync(path.join(root, CONFIGURATION_PAGE), "utf8");
        assert.ok(committed === expectedConfigurationPage(root), `${CONFIGURATION_PAGE} is stale: run ${REGENERATE_COMMAND} and commit the result`);
    });

    it("has one row per declared setting, with its type, default and description", () => {
        const page = renderConfigurationReference(projectYaml);
        const declared = parse(projectYaml).config as Record<string, { description: string }>;
        assert.deepEqual(Object.keys(declared).sort(), [...STACK_SETTINGS].sort());
        for (const [key, setting] of Object.entries(declared)) {
            const row = rowOf(page, key);
            assert.ok(row, `no row for ${key}`);
            assert.ok(row.includes(shown(setting.description)), `${key}'s description is missing from its row`);
        }
        assert.match(rowOf(page, "activeColor")!, /\| string \| `blue` \|/);
        assert.match(rowOf(page, "hosts")!, /\| array of string \| `\["sample\.hoge\.com"\]` \|/);
        assert.match(rowOf(page, "istioRevision")!, /\| string \| unset \|/);
        assert.match(rowOf(page, "blueReplicas")!, /\| integer \| `2` \|/);
        assert.match(rowOf(page, "externalServices")!, /"&lt;protocol&gt;:\/\/&lt;host&gt;:&lt;port&gt;"/);
    });

    it("follows Pulumi.yaml: a changed description, default or new key changes the page", () => {
        const project = parse(projectYaml);
        project.config.activeColor.description = "Changed | with a pipe.";
        project.config.activeColor.default = "green";
        project.config.someNewSetting = { type: "integer", description: "A new one.", default: 7 };
        const page = renderConfigurationReference(stringify(project));
        assert.equal(rowOf(page, "activeColor"), "| `activeColor` | string | `green` | Changed \\| with a pipe. |");
        assert.equal(rowOf(page, "someNewSetting"), "| `someNewSetting` | integer | `7` | A new one. |");
        assert.notEqual(page, renderConfigurationReference(projectYaml));
    });

    it("states each setting's prerequisite and marks secrets, from the reader's own tables", () => {
        const page = renderConfigurationReference(projectYaml);
        assert.match(rowOf(page, "masterCidr")!, /Needs privateNodes true\./);
        assert.match(rowOf(page, "certManagerVersion")!, /Needs installCertManager true\./);
        assert.match(rowOf(page, "clusterName")!, /Needs kubeconfig unset/);
        assert.match(rowOf(page, "kubeconfig")!, /\*Secret\.\*/);
        assert.doesNotMatch(rowOf(page, "activeColor")!, /Needs|Secret/);
    });
});
