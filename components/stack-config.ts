// Reads and validates the stack configuration (the settings declared in Pulumi.yaml). Pure: it
// takes a getter, so tests and the offline renderer can feed it without the Pulumi engine.
import {
    BLUE_GREEN_DEFAULTS,
    BlueGreenServiceArgs,
    ResolvedBlueGreenServiceArgs,
    checkBlueGreenServiceArgs,
    resolveBlueGreenServiceArgs,
} from "./blue-green-service";
import { ExternalService, parseExternalEndpoint } from "./external-services";
import { COLORS, Color, LoadBalancerPolicy } from "./routing";
import { ConfigProblem, describe, throwIfProblems } from "./validation";

/** Returns the raw string of a stack setting (as `pulumi.Config.get` does), or undefined when unset. */
export type ConfigGetter = (key: string) => string | undefined;

/** Everything the program needs from the stack configuration, validated. */
export interface StackSettings {
    /** Arguments of the blue-green workload, defaults applied. */
    workload: ResolvedBlueGreenServiceArgs;
    /** Kubeconfig (path or contents) of an existing cluster; undefined means the ambient kubeconfig. */
    kubeconfig?: string;
}

/** Stack config keys whose component argument has another path. */
const ARGUMENT_PATH_TO_CONFIG_KEY: [string, string][] = COLORS.flatMap((color): [string, string][] => [
    [`colors.${color}.image`, `${color}Image`],
    [`colors.${color}.replicas`, `${color}Replicas`],
]);

function configKeyFor(argumentPath: string): string {
    for (const [path, key] of ARGUMENT_PATH_TO_CONFIG_KEY) {
        if (argumentPath === path || argumentPath.startsWith(`${path}[`)) {
            return key + argumentPath.slice(path.length);
        }
    }
    return argumentPath;
}

/** Reads settings one by one, remembering parse problems under the config key. */
class SettingsReader {
    readonly problems: ConfigProblem[] = [];
    constructor(private readonly get: ConfigGetter) {}

    string(key: string): string | undefined {
        return this.get(key);
    }

    integer(key: string, min: number, max: number): number | undefined {
        const raw = this.get(key);
        if (raw === undefined) return undefined;
        const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isSafeInteger(value) || value < min || value > max) {
            this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: a whole number from ${min} to ${max}` });
            return undefined;
        }
        return value;
    }

    stringList(key: string, example: string): string[] | undefined {
        const raw = this.get(key);
        if (raw === undefined) return undefined;
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            value = raw;
        }
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
            this.problems.push({
                setting: key,
                message: `got ${describe(raw)}; allowed values: a list of strings, set with e.g. pulumi config set --path '${key}[0]' ${example}`,
            });
            return undefined;
        }
        return value;
    }

    hasProblem(key: string): boolean {
        return this.problems.some((p) => p.setting === key || p.setting.startsWith(`${key}[`));
    }
}

/** Parses `externalServices` entries, merging the ports of entries for the same host. */
function readExternalServices(reader: SettingsReader): ExternalService[] | undefined {
    const entries = reader.stringList("externalServices", "tcp://db.example.com:5432");
    if (entries === undefined) return undefined;
    const byName = new Map<string, ExternalService>();
    entries.forEach((entry, i) => {
        const { service, problems } = parseExternalEndpoint(`externalServices[${i}]`, entry);
        reader.problems.push(...problems);
        if (!service) return;
        const existing = byName.get(service.name);
        if (existing) {
            existing.ports.push(...service.ports.filter((p) => !existing.ports.some((q) => q.number === p.number)));
        } else {
            byName.set(service.name, service);
        }
    });
    return [...byName.values()];
}

/**
 * Reads the stack configuration and validates it completely. Throws a ConfigError naming every
 * bad setting and its allowed values; the caller declares resources only after this returns.
 */
export function readStackConfig(get: ConfigGetter): StackSettings {
    const reader = new SettingsReader(get);
    const colors = {} as Record<Color, { image: string; replicas: number }>;
    for (const color of COLORS) {
        const defaults = BLUE_GREEN_DEFAULTS.colors[color];
        colors[color] = {
            image: reader.string(`${color}Image`) ?? defaults.image,
            replicas: reader.integer(`${color}Replicas`, 0, 1000) ?? defaults.replicas,
        };
    }
    const workload: BlueGreenServiceArgs = {
        activeColor: (reader.string("activeColor") ?? BLUE_GREEN_DEFAULTS.activeColor) as Color,
        namespace: reader.string("namespace"),
        istioRevision: reader.string("istioRevision"),
        appName: reader.string("appName"),
        hosts: reader.stringList("hosts", "sample.hoge.com"),
        colors,
        headerName: reader.string("headerName"),
        loadBalancer: reader.string("loadBalancer") as LoadBalancerPolicy | undefined,
        externalServices: readExternalServices(reader),
    };
    const resolved = resolveBlueGreenServiceArgs(workload);
    const argumentProblems = checkBlueGreenServiceArgs(resolved)
        .map((p) => ({ ...p, setting: configKeyFor(p.setting) }))
        // A value that could not be parsed was replaced by its default: report the parse problem only.
        .filter((p) => !reader.hasProblem(p.setting.replace(/\[.*$/, "")));
    throwIfProblems([...reader.problems, ...argumentProblems]);
    return { workload: resolved, kubeconfig: reader.string("kubeconfig") };
}
