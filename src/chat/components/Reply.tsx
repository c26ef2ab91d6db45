// The reply being streamed (the only part of the transcript that re-renders).
import { Text } from 'ink';

export function Reply({ text }: { text: string }) {
  return (
    <Text>
      {text}
      <Text dimColor>▍</Text>
    </Text>
  );
}
