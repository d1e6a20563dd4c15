/** The datatypes the emulator knows: enough to sniff by extension and fill BED metadata like Galaxy's show. */
const DATATYPES: Record<string, string> = {
  auto: '',
  bed: 'galaxy.datatypes.interval.Bed',
  bam: 'galaxy.datatypes.binary.Bam',
  sam: 'galaxy.datatypes.tabular.Sam',
  csv: 'galaxy.datatypes.tabular.CSV',
  data: 'galaxy.datatypes.data.Data',
  fasta: 'galaxy.datatypes.sequence.Fasta',
  fastqsanger: 'galaxy.datatypes.sequence.FastqSanger',
  'fastqsanger.gz': 'galaxy.datatypes.sequence.FastqSangerGz',
  gff: 'galaxy.datatypes.interval.Gff',
  gtf: 'galaxy.datatypes.interval.Gtf',
  json: 'galaxy.datatypes.text.Json',
  tabular: 'galaxy.datatypes.tabular.Tabular',
  tsv: 'galaxy.datatypes.tabular.Tabular',
  txt: 'galaxy.datatypes.data.Text',
  vcf: 'galaxy.datatypes.tabular.Vcf',
  zip: 'galaxy.datatypes.binary.CompressedZipArchive',
};

const BY_SUFFIX: [string, string][] = [
  ['.fastq.gz', 'fastqsanger.gz'],
  ['.fq.gz', 'fastqsanger.gz'],
  ['.fastq', 'fastqsanger'],
  ['.fq', 'fastqsanger'],
  ['.bed', 'bed'],
  ['.bam', 'bam'],
  ['.sam', 'sam'],
  ['.csv', 'csv'],
  ['.fasta', 'fasta'],
  ['.fa', 'fasta'],
  ['.gff', 'gff'],
  ['.gff3', 'gff'],
  ['.gtf', 'gtf'],
  ['.json', 'json'],
  ['.tsv', 'tabular'],
  ['.tab', 'tabular'],
  ['.txt', 'txt'],
  ['.vcf', 'vcf'],
  ['.zip', 'zip'],
];

export function isKnownExt(ext: string): boolean {
  return Object.hasOwn(DATATYPES, ext);
}

export function dataTypeClass(ext: string): string {
  return DATATYPES[ext] ?? 'galaxy.datatypes.data.Data';
}

export function sniff(name: string, content: Buffer): string {
  const lower = name.toLowerCase();
  for (const [suffix, ext] of BY_SUFFIX) {
    if (lower.endsWith(suffix)) return ext;
  }
  return content.subarray(0, 4096).includes(0) ? 'data' : 'txt';
}

export interface Metadata {
  blurb: string;
  info: string;
  peek: string;
  fields: Record<string, string | number | null>;
}

/** What Galaxy's set_meta leaves on a dataset, for the types whose metadata the seed shows. */
export function metadataFor(ext: string, content: Buffer, dbkey: string): Metadata {
  const text = content.subarray(0, 1 << 20).toString('utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const peek = lines.slice(0, 5).join('\n');
  if (ext === 'bed') {
    const data = lines.filter((l) => !l.startsWith('#') && !l.startsWith('track') && !l.startsWith('browser'));
    const columns = data[0]?.split('\t').length ?? 0;
    const comments = lines.length - data.length;
    const fields: Record<string, string | number | null> = {
      metadata_dbkey: dbkey,
      metadata_data_lines: data.length,
      metadata_comment_lines: comments === 0 ? null : comments,
      metadata_columns: columns,
      metadata_chromCol: 1,
      metadata_startCol: 2,
      metadata_endCol: 3,
      metadata_column_types: ['str', 'int', 'int', 'str', 'int', 'str'].slice(0, columns).join(', '),
    };
    if (columns >= 4) fields.metadata_nameCol = 4;
    if (columns >= 6) fields.metadata_strandCol = 6;
    return { blurb: `${data.length} regions`, info: 'uploaded bed file', peek, fields };
  }
  return {
    blurb: content.length === 0 ? 'empty' : `${lines.length} lines`,
    info: `uploaded ${ext} file`,
    peek,
    fields: { metadata_dbkey: dbkey, metadata_data_lines: lines.length },
  };
}
