// Finished turns, written once through ink's <Static> (never re-rendered).
import { Box, Static, Text } from 'ink';
import { Banner, type BannerInfo } from './Banner.js';

export type TranscriptItem =
  | { id: number; kind: 'banner'; info: BannerInfo }
  | { id: number; kind: 'user' | 'assistant' | 'notice' | 'error' | 'output'; text: string };

function Item({ item }: { item: TranscriptItem }) {
  switch (item.kind) {
    case 'banner':
      return <Banner info={item.info} />;
    case 'user':
      return (
        <Box marginTop={1}>
          <Text color="green" bold>
            {'> '}
          </Text>
          <Text>{item.text}</Text>
        </Box>
      );
    case 'assistant':
      return <Text>{item.text}</Text>;
    case 'notice':
      return <Text color="yellow">{item.text}</Text>;
    case 'error':
      return <Text color="red">{item.text}</Text>;
    default:
      return <Text dimColor>{item.text}</Text>;
  }
}

export function Transcript({ items }: { items: TranscriptItem[] }) {
  return <Static items={items}>{(item) => <Item key={item.id} item={item} />}</Static>;
}
