// expect: ^unknown: 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  wire [8:0] free;
  \$anyseq #(.WIDTH(9)) any (.Y(free));
  assign sum = free;
endmodule
