/** The release version; the build stamps the commit beside it. */
export const VERSION = "0.1.0";
