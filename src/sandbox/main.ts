import { Command } from 'commander';

const program = new Command('rebalancer-sandbox').description(
  'A local Manta made of faithful stand-ins (moray shards, makos, storinfo) for demos, tests and benchmarks',
);

program
  .command('demo')
  .description('start a sandbox, seed objects and evacuate one storage node end to end')
  .action(() => {
    console.log(
      'The sandbox demo is not built yet (issue 7: it needs the sandbox, agent and manager).',
    );
  });

await program.parseAsync();
