/**
 * The name Galaxy gives a dataset imported with the legacy library contents
 * API (upload_directory, upload_paths): with copy_files it strips ".gz" and
 * ".zip" as Python's str.rstrip does, as a set of characters, so
 * "sample.log.gz" becomes "sample.lo"; linked files keep their basename
 * (lib/galaxy/actions/library.py, _make_library_uploaded_dataset).
 */
export function legacyDatasetName(basename: string, link: boolean): string {
  return link ? basename : pyRstrip(pyRstrip(basename, '.gz'), '.zip');
}

/** Python's str.rstrip(chars). */
export function pyRstrip(value: string, chars: string): string {
  let end = value.length;
  while (end > 0 && chars.includes(value[end - 1] ?? '')) end--;
  return value.slice(0, end);
}
