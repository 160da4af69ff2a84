import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemoryBytes, parseQuantity } from '../../activities/kubernetes/quantity.js';

void describe('parseQuantity', () => {
  const cases: Array<[string | number, number]> = [
    ['2Gi', 2147483648],
    ['512Mi', 536870912],
    ['1.5Gi', 1610612736],
    ['1G', 1e9],
    ['128974848', 128974848],
    ['129e6', 129e6],
    ['129E6', 129e6],
    ['1E', 1e18],
    ['1Ki', 1024],
    ['100k', 100000],
    ['500m', 0.5],
    ['.5Gi', 536870912],
    ['0', 0],
    [' 64Mi ', 67108864],
    [1073741824, 1073741824],
  ];
  for (const [input, expected] of cases) {
    void it(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(parseQuantity(input), expected);
    });
  }

  for (const bad of ['', 'Gi', '2GB', '2 Gi', '1.2.3', 'abc', '2gi', '1e']) {
    void it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseQuantity(bad), /invalid quantity/);
    });
  }
});

void describe('parseMemoryBytes', () => {
  void it('gives whole bytes, rounding fractions up like Kubernetes', () => {
    assert.equal(parseMemoryBytes('2Gi'), 2147483648);
    assert.equal(parseMemoryBytes('1.1Gi'), 1181116007);
    assert.equal(parseMemoryBytes('500m'), 1);
  });
});
