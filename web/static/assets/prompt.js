// Room types, style presets and how they become the prompt that is sent.

/** The server's default prompt (compat text), sent when the page sends none. */
export const DEFAULT_PROMPT =
  'Stage this room with minimalist modern furniture in neutral tones. Preserve architecture and lighting; add realistic shadows and reflections.';

/** Room types a stager furnishes, with what a furnished one usually holds. */
export const ROOMS = [
  { id: 'living-room', label: 'Living room', noun: 'living room', furniture: 'a sofa, armchairs, a coffee table, a rug, floor lamps and a few decorative accents' },
  { id: 'bedroom', label: 'Bedroom', noun: 'bedroom', furniture: 'a made bed with bedside tables and lamps, a rug, a dresser and soft textiles' },
  { id: 'kitchen', label: 'Kitchen', noun: 'kitchen', furniture: 'bar stools, a few styled countertop accessories, fresh fruit and plants' },
  { id: 'dining-room', label: 'Dining room', noun: 'dining room', furniture: 'a dining table with chairs, a pendant light, a rug and a sideboard' },
  { id: 'home-office', label: 'Home office', noun: 'home office', furniture: 'a desk, an ergonomic chair, shelving with books and a desk lamp' },
  { id: 'kids-room', label: "Kids' room", noun: "child's bedroom", furniture: 'a single bed, playful textiles, a reading corner and toy storage' },
  { id: 'bathroom', label: 'Bathroom', noun: 'bathroom', furniture: 'towels, a bath mat, plants and a few toiletries' },
  { id: 'patio', label: 'Patio / balcony', noun: 'outdoor patio', furniture: 'outdoor lounge seating, a small table, potted plants and string lights' },
];

/** Style presets, each with what makes the style recognisable. */
export const STYLES = [
  { id: 'modern', label: 'Modern', name: 'modern', detail: 'clean lines, neutral tones and matte black accents' },
  { id: 'scandinavian', label: 'Scandinavian', name: 'Scandinavian', detail: 'light oak, white and soft grey textiles, simple functional pieces and cosy wool throws' },
  { id: 'industrial', label: 'Industrial', name: 'industrial', detail: 'leather, dark metal, reclaimed wood and Edison-bulb lighting' },
  { id: 'boho', label: 'Boho', name: 'bohemian', detail: 'rattan, layered patterned rugs, macramé, warm earthy colours and many plants' },
  { id: 'luxury', label: 'Luxury', name: 'luxury', detail: 'velvet and marble, brass details, statement lighting and a refined, elegant palette' },
  { id: 'mid-century', label: 'Mid-century', name: 'mid-century modern', detail: 'walnut wood, tapered legs, organic shapes and mustard and teal accents' },
  { id: 'coastal', label: 'Coastal', name: 'coastal', detail: 'white and sand tones, linen, light blue accents, natural fibres and driftwood' },
  { id: 'farmhouse', label: 'Farmhouse', name: 'modern farmhouse', detail: 'rustic wood, shiplap-white tones, black hardware and vintage touches' },
  { id: 'japandi', label: 'Japandi', name: 'Japandi', detail: 'low furniture, pale wood, paper lighting, calm minimalism and muted earth tones' },
  { id: 'traditional', label: 'Traditional', name: 'classic traditional', detail: 'rich wood, tufted upholstery, symmetry and timeless patterns' },
];

const PRESERVE = 'Preserve the architecture, walls, windows, floors, camera angle and natural lighting; add realistic shadows and reflections.';

function article(word) {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

function sentence(text) {
  const t = text.trim();
  if (!t) return '';
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/**
 * composePrompt builds the prompt that is sent from the chosen room, style,
 * free text and the "keep architecture" switch. It returns "" when nothing
 * was chosen or typed: the server then uses its default prompt.
 */
export function composePrompt({ room, style, text, preserve }) {
  const free = sentence(text || '');
  if (!room && !style) {
    if (!free) return '';
    return preserve ? `${free} ${PRESERVE}` : free;
  }
  let first;
  if (room && style) {
    first = `Virtually stage this empty room as ${article(style.name)} ${style.name} ${room.noun} with ${room.furniture}.`;
  } else if (room) {
    first = `Virtually stage this empty room as a tastefully furnished ${room.noun} with ${room.furniture}.`;
  } else {
    first = `Virtually stage this room with furniture and decor in ${article(style.name)} ${style.name} style.`;
  }
  const parts = [first];
  if (style) parts.push(`Style: ${style.detail}.`);
  if (free) parts.push(free);
  if (preserve) parts.push(PRESERVE);
  return parts.join(' ');
}

/** promptLabel is a short name for a result: "Scandinavian living room". */
export function promptLabel({ room, style, text }) {
  if (room && style) return `${style.label} ${room.label.toLowerCase()}`;
  if (room) return room.label;
  if (style) return `${style.label} style`;
  if (text && text.trim()) return 'Custom prompt';
  return 'Default staging';
}
