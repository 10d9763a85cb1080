// External endpoints (a database outside the mesh, a payment API) declared as Istio ServiceEntries,
// so sidecars know them even when the mesh only allows registered destinations.
import { ConfigProblem, checkDnsLabel, checkInteger, checkOneOf, describe, isDnsName } from "./validation";

/** A port protocol Istio understands on a ServiceEntry. */
export const ServiceEntryProtocol = { Http: "HTTP", Https: "HTTPS", Http2: "HTTP2", Grpc: "GRPC", Tls: "TLS", Tcp: "TCP", Mongo: "MONGO" } as const;
/** A port protocol Istio understands on a ServiceEntry. */
export type ServiceEntryProtocol = (typeof ServiceEntryProtocol)[keyof typeof ServiceEntryProtocol];
/** The ServiceEntry port protocols. */
export const SERVICE_ENTRY_PROTOCOLS: readonly ServiceEntryProtocol[] = Object.values(ServiceEntryProtocol);

/** How sidecars resolve the endpoint's addresses. */
export const ServiceEntryResolution = { Dns: "DNS", DnsRoundRobin: "DNS_ROUND_ROBIN", Static: "STATIC", None: "NONE" } as const;
/** How sidecars resolve the endpoint's addresses. */
export type ServiceEntryResolution = (typeof ServiceEntryResolution)[keyof typeof ServiceEntryResolution];
/** The ServiceEntry resolution modes. */
export const SERVICE_ENTRY_RESOLUTIONS: readonly ServiceEntryResolution[] = Object.values(ServiceEntryResolution);

/** Whether the endpoint counts as part of the mesh. */
export const ServiceEntryLocation = { MeshExternal: "MESH_EXTERNAL", MeshInternal: "MESH_INTERNAL" } as const;
/** Whether the endpoint counts as part of the mesh. */
export type ServiceEntryLocation = (typeof ServiceEntryLocation)[keyof typeof ServiceEntryLocation];
/** The ServiceEntry locations. */
export const SERVICE_ENTRY_LOCATIONS: readonly ServiceEntryLocation[] = Object.values(ServiceEntryLocation);

/** A port of an external endpoint. */
export interface ExternalServicePort {
    /** Port number. */
    number: number;
    /** Protocol on that port. */
    protocol: ServiceEntryProtocol;
    /** Port name; default `<protocol>-<number>` in lowercase. */
    name?: string;
}

/** An external endpoint to register in the mesh. */
export interface ExternalService {
    /** Kubernetes name of the ServiceEntry (a DNS label). */
    name: string;
    /** DNS names of the endpoint. */
    hosts: string[];
    /** Ports the workload calls. */
    ports: ExternalServicePort[];
    /** Address resolution; default `DNS`. */
    resolution?: ServiceEntryResolution;
    /** Location; default `MESH_EXTERNAL`. */
    location?: ServiceEntryLocation;
}

/** The spec of an Istio ServiceEntry. */
export interface ServiceEntrySpec {
    hosts: string[];
    exportTo: string[];
    location: ServiceEntryLocation;
    resolution: ServiceEntryResolution;
    ports: { number: number; name: string; protocol: ServiceEntryProtocol }[];
}

/**
 * Builds a ServiceEntry spec. It is exported to its own namespace only, so registering a database
 * for this app does not open it to the whole mesh.
 */
export function buildServiceEntrySpec(service: ExternalService): ServiceEntrySpec {
    return {
        hosts: [...service.hosts],
        exportTo: ["."],
        location: service.location ?? "MESH_EXTERNAL",
        resolution: service.resolution ?? "DNS",
        ports: service.ports.map((p) => ({
            number: p.number,
            name: p.name ?? `${p.protocol.toLowerCase()}-${p.number}`,
            protocol: p.protocol,
        })),
    };
}

/** The ServiceEntry CRD's limit on `hosts` and `ports` (maxItems in networking.istio.io/v1, Istio 1.31). */
export const MAX_SERVICE_ENTRY_ITEMS = 256;

/** Checks a list of external services given as component arguments. */
export function checkExternalServices(setting: string, services: ExternalService[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    services.forEach((s, i) => {
        const at = `${setting}[${i}]`;
        problems.push(...checkDnsLabel(`${at}.name`, s.name));
        if (!Array.isArray(s.hosts) || s.hosts.length === 0) {
            problems.push({ setting: `${at}.hosts`, message: `got ${describe(s.hosts)}; allowed values: a non-empty list of DNS names` });
        } else {
            s.hosts.forEach((h, j) => {
                if (typeof h !== "string" || !isDnsName(h)) {
                    problems.push({ setting: `${at}.hosts[${j}]`, message: `got ${describe(h)}; allowed values: a DNS name such as db.example.com` });
                }
            });
        }
        if (!Array.isArray(s.ports) || s.ports.length === 0) {
            problems.push({ setting: `${at}.ports`, message: `got ${describe(s.ports)}; allowed values: a non-empty list of ports` });
        } else if (s.ports.length > MAX_SERVICE_ENTRY_ITEMS) {
            // Named here: the API server would report it by the CRD path (spec.ports) instead.
            problems.push({ setting: `${at}.ports`, message: `lists ${s.ports.length} ports for ${describe(s.hosts?.[0])}; the ServiceEntry CRD takes at most ${MAX_SERVICE_ENTRY_ITEMS}; allowed values: at most ${MAX_SERVICE_ENTRY_ITEMS} ports per host` });
        } else {
            s.ports.forEach((p, j) => {
                problems.push(...checkInteger(`${at}.ports[${j}].number`, p.number, 1, 65535));
                problems.push(...checkOneOf(`${at}.ports[${j}].protocol`, p.protocol, SERVICE_ENTRY_PROTOCOLS));
            });
        }
        if (s.resolution !== undefined) problems.push(...checkOneOf(`${at}.resolution`, s.resolution, SERVICE_ENTRY_RESOLUTIONS));
        if (s.location !== undefined) problems.push(...checkOneOf(`${at}.location`, s.location, SERVICE_ENTRY_LOCATIONS));
    });
    const names = services.map((s) => s.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
        problems.push({ setting, message: `names ${describe(duplicate)} more than once; allowed values: unique ServiceEntry names` });
    }
    return problems;
}

const ENDPOINT_FORMAT = `allowed values: "<protocol>://<dns-name>:<port>" with protocol one of ` +
    `${SERVICE_ENTRY_PROTOCOLS.map((p) => p.toLowerCase()).join(", ")}, e.g. "tcp://db.example.com:5432"`;

/**
 * Parses the stack-config shorthand for an external service, `<protocol>://<host>:<port>`
 * (Pulumi project config cannot declare object types, so each entry is a string).
 */
export function parseExternalEndpoint(setting: string, value: unknown): { service?: ExternalService; problems: ConfigProblem[] } {
    const match = typeof value === "string" ? /^([a-z0-9]+):\/\/([^:/]+):(\d{1,5})$/.exec(value) : null;
    if (!match) {
        return { problems: [{ setting, message: `got ${describe(value)}; ${ENDPOINT_FORMAT}` }] };
    }
    const [, scheme, host, portText] = match;
    const protocol = scheme.toUpperCase();
    const port = Number(portText);
    const problems: ConfigProblem[] = [];
    if (!(SERVICE_ENTRY_PROTOCOLS as readonly string[]).includes(protocol)) {
        problems.push({ setting, message: `has unknown protocol "${scheme}"; ${ENDPOINT_FORMAT}` });
    }
    if (!isDnsName(host) || host.startsWith("*.")) {
        problems.push({ setting, message: `has host "${host}", which is not a DNS name; ${ENDPOINT_FORMAT}` });
    }
    problems.push(...checkInteger(`${setting} port`, port, 1, 65535));
    if (problems.length > 0) {
        return { problems };
    }
    const name = `external-${host.replace(/\./g, "-")}`.slice(0, 63).replace(/-+$/, "");
    return {
        service: { name, hosts: [host], ports: [{ number: port, protocol: protocol as ServiceEntryProtocol }] },
        problems,
    };
}
