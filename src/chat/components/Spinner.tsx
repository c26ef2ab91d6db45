// A one-line spinner with a label and the elapsed seconds.
import { Text } from 'ink';
import { useEffect, useState } from 'react';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function Spinner({ label }: { label: string }) {
  const [frame, setFrame] = useState(0);
  const [t0] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setFrame((f) => f + 1), 100);
    return () => clearInterval(id);
  }, []);
  return (
    <Text>
      <Text color="yellow">{FRAMES[frame % FRAMES.length]}</Text> {label} <Text dimColor>{((Date.now() - t0) / 1000).toFixed(1)}s</Text>
    </Text>
  );
}
