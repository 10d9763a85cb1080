import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type * as gke from "../components/gke-cluster";
import { checkGkeClusterArgs, regionOf, resolveGkeClusterArgs } from "../components/gke-cluster";
import { parseCidr } from "../components/validation";
import { MOCK_CLUSTER_ENDPOINT, Resources, evaluate, useMocks, valueOf } from "./harness";

const T = {
    cluster: "gcp:container/cluster:Cluster",
    pool: "gcp:container/nodePool:NodePool",
    account: "gcp:serviceaccount/account:Account",
    member: "gcp:projects/iAMMember:IAMMember",
    repoMember: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    firewall: "gcp:compute/firewall:Firewall",
    router: "gcp:compute/router:Router",
    nat: "gcp:compute/routerNat:RouterNat",
    network: "gcp:compute/network:Network",
    subnet: "gcp:compute/subnetwork:Subnetwork",
    provider: "pulumi:providers:kubernetes",
};

const base: gke.GkeClusterArgs = { project: "my-project-id", clusterName: "bg", location: "us-central1", deletionProtection: true };

describe("GkeCluster", () => {
    let mod: typeof gke;
    before(async () => {
        await useMocks();
        mod = await import("../components/gke-cluster");
    });

    async function declare(args: Partial<gke.GkeClusterArgs> = {}) {
        let component: gke.GkeCluster | undefined;
        const ev = await evaluate(() => { component = new mod.GkeCluster("gke", { ...base, ...args }); });
        return { ...ev, r: new Resources(ev.resources), component };
    }

    it("creates a VPC-native network with secondary ranges for pods and services", async () => {
        const { r } = await declare();
        assert.equal(r.get(T.network, "gke-network").inputs.autoCreateSubnetworks, false);
        const subnet = r.get(T.subnet, "gke-subnet").inputs;
        assert.equal(subnet.region, "us-central1");
        assert.equal(subnet.ipCidrRange, "10.10.0.0/20");
        assert.equal(subnet.privateIpGoogleAccess, true);
        assert.deepEqual(subnet.secondaryIpRanges, [
            { rangeName: "pods", ipCidrRange: "10.20.0.0/14" },
            { rangeName: "services", ipCidrRange: "10.24.0.0/20" },
        ]);
        const cluster = r.get(T.cluster, "gke-cluster").inputs;
        assert.equal(cluster.networkingMode, "VPC_NATIVE");
        assert.deepEqual(cluster.ipAllocationPolicy, { clusterSecondaryRangeName: "pods", servicesSecondaryRangeName: "services" });
        assert.equal(cluster.network, "gke-network-id");
        assert.equal(cluster.subnetwork, "gke-subnet-id");
    });

    it("uses an existing network instead of creating one", async () => {
        const { r } = await declare({ existingNetwork: { network: "shared-vpc", subnetwork: "gke-subnet", podsRangeName: "p", servicesRangeName: "s" } });
        assert.equal(r.ofType(T.network).length + r.ofType(T.subnet).length, 0);
        const cluster = r.get(T.cluster, "gke-cluster").inputs;
        assert.equal(cluster.network, "shared-vpc");
        assert.deepEqual(cluster.ipAllocationPolicy, { clusterSecondaryRangeName: "p", servicesSecondaryRangeName: "s" });
    });

    it("hardens the cluster: default pool removed, release channel, Workload Identity, shielded nodes, Dataplane V2, telemetry", async () => {
        const cluster = (await declare()).r.get(T.cluster, "gke-cluster").inputs;
        assert.equal(cluster.name, "bg");
        assert.equal(cluster.location, "us-central1");
        assert.equal(cluster.removeDefaultNodePool, true);
        assert.equal(cluster.initialNodeCount, 1);
        assert.deepEqual(cluster.releaseChannel, { channel: "REGULAR" });
        assert.deepEqual(cluster.workloadIdentityConfig, { workloadPool: "my-project-id.svc.id.goog" });
        assert.equal(cluster.enableShieldedNodes, true);
        assert.equal(cluster.datapathProvider, "ADVANCED_DATAPATH");
        assert.deepEqual(cluster.loggingConfig.enableComponents, ["SYSTEM_COMPONENTS", "WORKLOADS"]);
        assert.deepEqual(cluster.monitoringConfig.enableComponents, ["SYSTEM_COMPONENTS"]);
        assert.equal(cluster.deletionProtection, true);
        assert.equal(cluster.privateClusterConfig, undefined);
        assert.equal((await declare({ deletionProtection: false, releaseChannel: "STABLE" })).r.get(T.cluster, "gke-cluster").inputs.deletionProtection, false);
    });

    it("manages a separate autoscaled node pool on a least-privilege service account", async () => {
        const { r } = await declare({ nodePool: { machineType: "n2-standard-8", minNodes: 2, maxNodes: 6, diskSizeGb: 100 } });
        const pool = r.get(T.pool, "gke-pool").inputs;
        assert.equal(pool.cluster, "bg");
        assert.equal(pool.location, "us-central1");
        assert.deepEqual(pool.autoscaling, { minNodeCount: 2, maxNodeCount: 6 });
        assert.deepEqual(pool.management, { autoRepair: true, autoUpgrade: true });
        const node = pool.nodeConfig;
        assert.equal(node.machineType, "n2-standard-8");
        assert.equal(node.diskSizeGb, 100);
        assert.deepEqual(node.workloadMetadataConfig, { mode: "GKE_METADATA" });
        assert.deepEqual(node.shieldedInstanceConfig, { enableSecureBoot: true, enableIntegrityMonitoring: true });
        const account = r.get(T.account, "gke-nodes").inputs;
        assert.equal(account.accountId, "bg-nodes");
        assert.equal(node.serviceAccount, "bg-nodes@my-project-id.iam.gserviceaccount.com");
        const grants = r.ofType(T.member);
        assert.deepEqual(grants.map((g) => g.inputs.role).sort(), [
            "roles/artifactregistry.reader", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
            "roles/stackdriver.resourceMetadata.writer",
        ]);
        for (const g of grants) assert.equal(g.inputs.member, "serviceAccount:bg-nodes@my-project-id.iam.gserviceaccount.com");
        const poolResource = r.get(T.pool, "gke-pool");
        for (const g of grants) assert.ok(poolResource.dependsOn.includes(g.urn), "nodes start only once their roles are granted");
    });

    it("lets nodes pull private images: artifactregistry.reader on the project, or only on the listed repositories", async () => {
        const project = (await declare()).r;
        const pull = project.get(T.member, "gke-nodes-image-pull").inputs;
        assert.deepEqual(pull, { project: "my-project-id", role: "roles/artifactregistry.reader", member: "serviceAccount:bg-nodes@my-project-id.iam.gserviceaccount.com" });
        assert.equal(project.ofType(T.repoMember).length, 0);
        const { r } = await declare({ imageRepositories: [{ location: "us-central1", repository: "apps" }, { project: "shared-images", location: "us", repository: "base" }] });
        assert.equal(r.ofType(T.member).filter((g) => g.inputs.role === "roles/artifactregistry.reader").length, 0, "no project-wide grant");
        assert.deepEqual(r.ofType(T.repoMember).map((g) => g.inputs), [
            { project: "my-project-id", location: "us-central1", repository: "apps", role: "roles/artifactregistry.reader", member: "serviceAccount:bg-nodes@my-project-id.iam.gserviceaccount.com" },
            { project: "shared-images", location: "us", repository: "base", role: "roles/artifactregistry.reader", member: "serviceAccount:bg-nodes@my-project-id.iam.gserviceaccount.com" },
        ]);
        const pool = r.get(T.pool, "gke-pool");
        for (const g of r.ofType(T.repoMember)) assert.ok(pool.dependsOn.includes(g.urn), "nodes start only once they may pull");
        const bad = await declare({ imageRepositories: [{ location: "us central", repository: "Apps" }] });
        assert.match(bad.error?.message ?? "", /imageRepositories\[0\]: got "us central\/Apps"; allowed values: <location>\/<repository>/);
    });

    it("adds private cluster config, authorized networks, Cloud NAT and the istiod webhook rule only for private nodes", async () => {
        const open = (await declare()).r;
        assert.equal(open.ofType(T.firewall).length + open.ofType(T.nat).length + open.ofType(T.router).length, 0);
        const { r } = await declare({ privateNodes: true, masterCidr: "172.16.8.0/28", masterAuthorizedNetworks: ["203.0.113.0/24"] });
        const cluster = r.get(T.cluster, "gke-cluster").inputs;
        assert.deepEqual(cluster.privateClusterConfig, { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.8.0/28" });
        assert.deepEqual(cluster.masterAuthorizedNetworksConfig, { cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "203.0.113.0/24" }] });
        const firewall = r.get(T.firewall, "gke-istiod-webhook").inputs;
        assert.equal(firewall.direction, "INGRESS");
        assert.deepEqual(firewall.sourceRanges, ["172.16.8.0/28"]);
        assert.deepEqual(firewall.allows, [{ protocol: "tcp", ports: ["15017"] }]);
        assert.deepEqual(firewall.targetTags, r.get(T.pool, "gke-pool").inputs.nodeConfig.tags);
        assert.equal(firewall.network, "gke-network-id");
        const nat = r.get(T.nat, "gke-nat").inputs;
        assert.equal(nat.router, "bg-router");
        assert.equal(nat.sourceSubnetworkIpRangesToNat, "ALL_SUBNETWORKS_ALL_IP_RANGES");
    });

    it("outputs a secret kubeconfig using gke-gcloud-auth-plugin and a provider that waits for the node pool", async () => {
        const { r, component } = await declare({ location: "europe-west1-b" });
        assert.ok(component);
        const kubeconfig = JSON.parse(await valueOf(component.kubeconfig));
        assert.equal(kubeconfig.clusters[0].cluster.server, `https://${MOCK_CLUSTER_ENDPOINT}`);
        assert.ok(kubeconfig.clusters[0].cluster["certificate-authority-data"]);
        assert.deepEqual(kubeconfig.users[0].user.exec.command, "gke-gcloud-auth-plugin");
        assert.equal(kubeconfig.users[0].user.exec.provideClusterInfo, true);
        assert.equal(kubeconfig["current-context"], "gke_my-project-id_europe-west1-b_bg");
        assert.equal(await pulumi.isSecret(component.kubeconfig), true);
        assert.equal(await valueOf(component.endpoint), MOCK_CLUSTER_ENDPOINT);
        assert.equal(await valueOf(component.clusterName), "bg");
        const provider = r.get(T.provider, "gke-k8s");
        assert.deepEqual(provider.secretPaths, ["kubeconfig"]);
        assert.ok(provider.dependsOn.includes(r.get(T.pool, "gke-pool").urn));
        // A stable identity: a new endpoint or CA (or a kubeconfig unknown during an update) must not replace the provider.
        assert.equal(provider.inputs.clusterIdentifier, "gke_my-project-id_europe-west1-b_bg");
        assert.equal(r.get(T.subnet, "gke-subnet").inputs.region, "europe-west1");
    });

    it("refuses bad arguments before declaring anything", async () => {
        const ev = await declare({ releaseChannel: "FAST" as any, nodePool: { minNodes: 4, maxNodes: 2 }, masterCidr: "172.16.0.0/24", privateNodes: true });
        assert.ok(ev.error);
        assert.match(ev.error.message, /releaseChannel: got "FAST"; allowed values: RAPID, REGULAR, STABLE, EXTENDED/);
        assert.match(ev.error.message, /nodePool.minNodes: is 4, more than nodePool.maxNodes/);
        assert.match(ev.error.message, /masterCidr: got "172.16.0.0\/24"; allowed values: an IPv4 CIDR with prefix \/28/);
        assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
    });
});

describe("GkeCluster pure helpers", () => {
    it("parses CIDRs strictly", () => {
        assert.deepEqual(parseCidr("10.0.0.0/8"), [10 * 2 ** 24, 8]);
        for (const bad of ["10.0.0.1/8", "10.0.0.0/33", "256.0.0.0/8", "10.0.0/8", "", "10.0.0.0"]) assert.equal(parseCidr(bad), undefined, bad);
    });

    it("derives the region of a zone", () => {
        assert.equal(regionOf("us-central1-a"), "us-central1");
        assert.equal(regionOf("us-central1"), "us-central1");
        assert.equal(regionOf("northamerica-northeast2-c"), "northamerica-northeast2");
    });

    it("accepts the defaults and refuses overlapping ranges", () => {
        assert.deepEqual(checkGkeClusterArgs(resolveGkeClusterArgs(base)), []);
        const problems = checkGkeClusterArgs(resolveGkeClusterArgs({ ...base, networkRanges: { services: "10.20.0.0/20" } }));
        assert.deepEqual(problems.map((p) => p.setting), ["networkRanges.services"]);
    });
});
