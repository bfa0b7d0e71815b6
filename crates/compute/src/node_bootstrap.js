// Switchyard's Node.js runtime, a small stand-in for AWS's aws-lambda-nodejs-runtime-interface-client.
//
// Speaks the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API, loads the handler named by _HANDLER
// (CommonJS or ES module) from LAMBDA_TASK_ROOT or the inline module source in
// _SWITCHYARD_HANDLER_SOURCE, and answers invocations with the results and error documents Lambda
// returns, with the function's files shown under /var/task. Console output is formatted as Lambda's.
// A handler that does not load is reported to /runtime/init/error, and the process exits.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const Module = require("node:module");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const util = require("node:util");
const vm = require("node:vm");

const LAMBDA_TASK_ROOT = "/var/task";
const INLINE_SOURCE_VARIABLE = "_SWITCHYARD_HANDLER_SOURCE";
const RUNTIME_PATH = "/2018-06-01/runtime";
// What Lambda names as the importer when the handler's module cannot be found.
const LAMBDA_RUNTIME_ENTRY = "/var/runtime/index.mjs";
const ES_MODULE_SYNTAX =
  /Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module|await is only valid in async functions and the top level bodies of modules/;

// Lambda's own errors, named Runtime.<class> like the runtime names them.
class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
for (const error of [ImportModuleError, HandlerNotFound, MalformedHandlerName, UserCodeSyntaxError]) {
  error.prototype.name = `Runtime.${error.name}`;
}

let currentRequestId = "";
let taskRoot = null;

function formatConsoleLikeLambda() {
  const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...values) => {
      process.stderr.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...values)}\n`);
    };
  }
}

// One keep-alive connection to the Runtime API, without Nagle's delay.
const [runtimeHost, runtimePort] = (process.env.AWS_LAMBDA_RUNTIME_API ?? "").split(":");
const runtimeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function callRuntimeApi(method, path, body = "", headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: runtimeHost, port: runtimePort, method, path: RUNTIME_PATH + path, agent: runtimeAgent, headers: { ...headers, "content-length": Buffer.byteLength(body) } },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    request.on("socket", (socket) => socket.setNoDelay(true));
    request.on("error", reject);
    request.end(body);
  });
}

function postError(path, document, errorType) {
  return callRuntimeApi("POST", path, JSON.stringify(document), { "lambda-runtime-function-error-type": errorType });
}

// Shows the function's own files where Lambda keeps them.
function inTaskRoot(text) {
  if (!taskRoot) return text;
  return text.split(pathToFileURL(taskRoot).href + "/").join(`file://${LAMBDA_TASK_ROOT}/`).split(taskRoot + path.sep).join(`${LAMBDA_TASK_ROOT}/`);
}

function errorDocument(error) {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: inTaskRoot(String(error.message)), trace: inTaskRoot(String(error.stack)).split("\n") };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function hasPackageJsonTypeModule(folder) {
  for (;;) {
    if (folder.endsWith(`${path.sep}node_modules`)) return false;
    const packageJson = path.join(folder, "package.json");
    if (fs.existsSync(packageJson)) {
      try {
        return JSON.parse(fs.readFileSync(packageJson, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

function requireIfPresent(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function importIfPresent(file) {
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

// Lambda's lookup: an extensionless file, then .js (CommonJS unless package.json says "module"),
// .mjs, .cjs, and finally Node's own resolution from the task root.
async function loadFromDirectory(moduleRoot, moduleName) {
  const file = path.resolve(taskRoot, moduleRoot, moduleName);
  const typeModule = hasPackageJsonTypeModule(path.dirname(file));
  const loaded =
    requireIfPresent(file) ??
    (typeModule ? undefined : requireIfPresent(`${file}.js`)) ??
    (typeModule ? await importIfPresent(`${file}.js`) : undefined) ??
    (await importIfPresent(`${file}.mjs`)) ??
    requireIfPresent(`${file}.cjs`);
  if (loaded !== undefined) return loaded;
  let resolved;
  try {
    resolved = require.resolve(moduleName, { paths: [taskRoot, path.resolve(taskRoot, moduleRoot)] });
  } catch {
    throw new ImportModuleError(`Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${LAMBDA_RUNTIME_ENTRY}`);
  }
  return require(resolved);
}

// Inline code is an ES module when it only compiles as one (Node's own detection rule).
function isEsModule(source, filename) {
  try {
    new vm.Script(Module.wrap(source), { filename });
    return false;
  } catch (error) {
    return ES_MODULE_SYNTAX.test(String(error && error.message));
  }
}

async function loadInline(moduleName, source) {
  const commonJsFile = `${LAMBDA_TASK_ROOT}/${moduleName}.js`;
  if (!isEsModule(source, commonJsFile)) {
    const userModule = new Module(commonJsFile, null);
    userModule.filename = commonJsFile;
    userModule.paths = Module._nodeModulePaths(LAMBDA_TASK_ROOT);
    userModule._compile(source, commonJsFile);
    return userModule.exports;
  }
  // Serve the source as the file /var/task/<module>.mjs, so that stack traces read like Lambda's.
  const url = `file://${LAMBDA_TASK_ROOT}/${moduleName}.mjs`;
  const hooks = `
    let sources;
    export function initialize(data) { sources = data; }
    export async function resolve(specifier, context, next) {
      return Object.hasOwn(sources, specifier) ? { url: specifier, shortCircuit: true } : next(specifier, context);
    }
    export async function load(url, context, next) {
      return Object.hasOwn(sources, url) ? { format: "module", source: sources[url], shortCircuit: true } : next(url, context);
    }`;
  Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`, pathToFileURL("./"), { data: { [url]: source } });
  return import(url);
}

async function loadHandler(setup) {
  const fullHandler = setup.handler;
  if (fullHandler.includes("..")) throw new MalformedHandlerName("'..' is not allowed in handler path");
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.slice(0, fullHandler.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName("Bad handler");
  const [, moduleName, handlerPath] = match;
  let userModule;
  try {
    userModule = setup.inlineSource === null ? await loadFromDirectory(moduleRoot, moduleName) : await loadInline(moduleName, setup.inlineSource);
  } catch (error) {
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(String(error));
    if (error && error.code === "MODULE_NOT_FOUND") throw new ImportModuleError(String(error));
    throw error;
  }
  const handler = handlerPath.split(".").reduce((value, key) => (value === undefined || value === null ? undefined : value[key]), userModule);
  if (handler === undefined) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== "function") throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

function lambdaContext(requestId, headers) {
  const env = process.env;
  const deadlineMs = Number(headers["lambda-runtime-deadline-ms"]);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
  };
}

// Calls the handler as Lambda's Runtime object does, so that V8 names the frames alike.
class Runtime {
  constructor(handler) {
    this.handler = handler;
  }

  handleOnceNonStreaming(event, context) {
    let settle;
    const settled = new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
    const callback = (error, result) => (error === undefined || error === null ? settle.resolve(result) : settle.reject(error));
    const returned = this.handler(event, context, callback);
    if (returned && typeof returned.then === "function") {
      returned.then(settle.resolve, settle.reject);
    } else if (this.handler.length < 3) {
      // A synchronous handler that takes no callback answers null, as on Lambda.
      settle.resolve(null);
    }
    return settled;
  }
}

// Runs one invocation and sends its result or its error to the Runtime API.
async function invoke(runtime) {
  const next = await callRuntimeApi("GET", "/invocation/next");
  if (next.status !== 200) process.exit(0);
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  currentRequestId = requestId;
  if (next.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
  let result;
  try {
    result = await runtime.handleOnceNonStreaming(JSON.parse(next.body), lambdaContext(requestId, next.headers));
  } catch (error) {
    const document = errorDocument(error);
    return postError(`/invocation/${requestId}/error`, document, document.errorType.startsWith("Runtime.") ? document.errorType : "Unhandled");
  }
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch {
    return postError(`/invocation/${requestId}/error`, errorDocument(new Error("Unable to stringify response body")), "Runtime.MarshalError");
  }
  return callRuntimeApi("POST", `/invocation/${requestId}/response`, body);
}

async function main() {
  formatConsoleLikeLambda();
  const inlineSource = process.env[INLINE_SOURCE_VARIABLE] ?? null;
  delete process.env[INLINE_SOURCE_VARIABLE];
  taskRoot = inlineSource === null ? process.env.LAMBDA_TASK_ROOT : null;
  let runtime;
  try {
    runtime = new Runtime(await loadHandler({ handler: process.env._HANDLER ?? "", inlineSource }));
  } catch (error) {
    const document = errorDocument(error);
    await postError("/init/error", document, document.errorType);
    process.exit(1);
  }
  for (;;) await invoke(runtime);
}

// The Runtime API went away: so does the environment.
main().catch(() => process.exit(0));
