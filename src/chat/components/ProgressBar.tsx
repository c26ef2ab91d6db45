// A progress bar: label, bar, percentage (fraction in [0, 1]).
import { Text } from 'ink';

export function ProgressBar({ label, fraction, width = 30 }: { label: string; fraction: number; width?: number }) {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return (
    <Text>
      {label} <Text color="green">{'█'.repeat(full)}</Text>
      <Text dimColor>{'░'.repeat(width - full)}</Text> {Math.round(f * 100)}%
    </Text>
  );
}
