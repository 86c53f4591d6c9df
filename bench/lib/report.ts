/** Plain-text tables for stdout and a hand-made SVG bar chart for the README. */

export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

export function textTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      // Cells past the last column (a skip's reason, errors) go as they are.
      .map((cell, i) =>
        columns[i] === undefined
          ? cell
          : columns[i].align === 'left'
            ? cell.padEnd(widths[i]!)
            : cell.padStart(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const ms = (n: number) => n.toFixed(n < 0.1 ? 3 : n < 10 ? 2 : 1);
export const ratio = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}×`);

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Ours is drawn in colour, peers in grey. */
  readonly kind: 'ours' | 'peer' | 'floor';
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  /** A line under the bars (e.g. for a contender left out because it would flatten the scale). */
  readonly note?: string;
}

const escapeXml = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const COLORS: Record<Bar['kind'], string> = { ours: '#2563eb', peer: '#94a3b8', floor: '#475569' };

/** Horizontal bar charts, one panel under another, each scaled to its own largest bar. */
export function barChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const width = 760;
  const labelWidth = 240;
  const barArea = width - labelWidth - 110;
  const barHeight = 20;
  const gap = 6;
  const parts: string[] = [];
  let y = 68;
  for (const panel of panels) {
    parts.push(
      `<text x="16" y="${y}" font-size="14" font-weight="600">${escapeXml(panel.title)} <tspan font-weight="400" fill="#64748b">(${escapeXml(panel.unit)}, higher is better)</tspan></text>`,
    );
    y += 12;
    const max = Math.max(1, ...panel.bars.map((b) => b.value));
    for (const bar of panel.bars) {
      const w = Math.max(1, Math.round((bar.value / max) * barArea));
      const weight = bar.kind === 'ours' ? ' font-weight="600"' : '';
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 14}" font-size="12" text-anchor="end"${weight}>${escapeXml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${w}" height="${barHeight}" rx="3" fill="${COLORS[bar.kind]}"/>`,
        `<text x="${labelWidth + w + 6}" y="${y + 14}" font-size="12"${weight}>${escapeXml(Math.round(bar.value).toLocaleString('en-US'))}</text>`,
      );
      y += barHeight + gap;
    }
    if (panel.note !== undefined) {
      parts.push(`<text x="${labelWidth}" y="${y + 10}" font-size="11" fill="#64748b">${escapeXml(panel.note)}</text>`);
      y += 16;
    }
    y += 28;
  }
  const height = y - 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" fill="#0f172a">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="24" font-size="16" font-weight="700">${escapeXml(title)}</text>
<text x="16" y="40" font-size="11" fill="#64748b">${escapeXml(subtitle)}</text>
${parts.join('\n')}
</svg>
`;
}
