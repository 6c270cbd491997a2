// Holds an exclusive lock on a SQLite file for a while, as another process would (a service
// instance still closing, a tool reading it), then lets go. Prints "held" once it holds it.
// Usage: hold-database.ts FILE MS
import { openDatabase } from "../../src/platform/index.ts";

const [file, ms] = process.argv.slice(2);
const db = await openDatabase(file!);
db.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
console.log("held");
await new Promise((resolve) => setTimeout(resolve, Number(ms)));
db.close();
