/** The package version, written into models as producer_version (a test keeps it equal to package.json). */
export const VERSION = '0.1.0';
