// expect: line 2: name good1 belongs to the testbench or the reference
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  wire [8:0] good1;
  assign sum = good1;
endmodule
